"""DynamoDB capacity units of a request, computed from item sizes the way AWS bills on-demand
tables (pure: no AWS, no moto).

The rules, from the DynamoDB developer guide ("Item sizes and formats", "Read and write
capacity units", "Global secondary indexes"):

- An item's size is the sum, over its attributes, of the attribute name's UTF-8 length plus the
  value's size: strings by UTF-8 length, binary by byte length, numbers about one byte per two
  significant digits plus one, booleans and nulls one byte, lists and maps 3 bytes plus one byte
  per element plus the elements (a map's keys count as names), sets the sum of their members.
- A write costs one unit per started 1 KB of the larger of the item before and after it
  (a replaced or updated item counts at its larger size), at least one; a delete costs the
  deleted item's size. A write whose condition fails still costs the existing item's size.
- A read costs one unit per started 4 KB, at least one, even when nothing is found; eventually
  consistent reads cost half. `BatchGetItem` rounds each item separately; `Query` and `Scan`
  round the sum of the items they read.
- Transactions cost double: two units per started KB written, two per 4 KB read.
- A global secondary index with a KEYS_ONLY projection costs one standard write per index
  entry put or deleted: one when an item enters or leaves the index, two when its index key
  changes, none when the key stays the same. An index entry holds the table's key and the
  index's key attributes.
- `BatchWriteItem` and `BatchGetItem` charge only what they processed (`UnprocessedItems` and
  `UnprocessedKeys` are charged when they are sent again).

Stream reads are not requests of our code: Lambda reads the tables' streams for the stream
consumers, and DynamoDB does not charge for those reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096

Item = Mapping[str, Any]  # DynamoDB's wire format: {"name": {"S": "..."}}
ItemRef = tuple[str, str]  # (table name, key as canonical JSON)


@dataclass(frozen=True)
class TableSchema:
    """What the arithmetic needs of a table: its key attributes and its KEYS_ONLY indexes."""

    name: str
    label: str
    keys: tuple[str, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def ref(self, item: Item) -> ItemRef:
        return self.name, key_id({name: item[name] for name in self.keys})


@dataclass
class Units:
    read: float = 0.0
    write: float = 0.0  # on the table itself
    index_write: float = 0.0  # on its global secondary indexes

    def __iadd__(self, other: Units) -> Units:
        self.read += other.read
        self.write += other.write
        self.index_write += other.index_write
        return self

    @property
    def total(self) -> float:
        return self.read + self.write + self.index_write


@dataclass(frozen=True)
class WriteAction:
    """One item a request writes: `kind` is put, update, delete or check."""

    table: str
    key: Item
    kind: str
    item: Item | None = None  # the new item of a put
    transactional: bool = False


@dataclass
class Consumption:
    by_table: dict[str, Units] = field(default_factory=dict)

    def add(self, label: str, units: Units) -> None:
        self.by_table.setdefault(label, Units())
        self.by_table[label] += units

    @property
    def read(self) -> float:
        return sum(units.read for units in self.by_table.values())

    @property
    def write(self) -> float:
        return sum(units.write + units.index_write for units in self.by_table.values())


# -- sizes ------------------------------------------------------------------------------


def key_id(key: Item) -> str:
    return json.dumps(key, sort_keys=True, default=_bytes_text)


def _bytes_text(value: Any) -> str:
    return value.hex() if isinstance(value, bytes | bytearray) else str(value)


def number_size(text: str) -> int:
    """About one byte per two significant digits, plus one (leading and trailing zeros,
    sign, decimal point and exponent are not digits)."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0].replace(".", "")
    digits = len(mantissa.strip("0")) or 1
    return (digits + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(v) for name, v in data.items())
    if kind in _SETS:
        return sum(_SCALARS[_SETS[kind]](member) for member in data)
    if kind not in _SCALARS:
        raise ValueError(f"unknown attribute type {kind!r}")
    return _SCALARS[kind](data)


_SCALARS: dict[str, Callable[[Any], int]] = {
    "S": lambda text: len(text.encode()),
    "N": number_size,
    "B": len,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
}
_SETS = {"SS": "S", "NS": "N", "BS": "B"}


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


# -- requests ---------------------------------------------------------------------------

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
}  # fmt: skip


def write_actions(
    operation: str, params: Mapping[str, Any], schemas: Mapping[str, TableSchema]
) -> list[WriteAction]:
    """Every item a write request touches (before knowing what the answer was)."""
    if operation == "PutItem":
        schema = schemas[params["TableName"]]
        item = params["Item"]
        return [WriteAction(schema.name, _key_of(schema, item), "put", item)]
    if operation in ("UpdateItem", "DeleteItem"):
        kind = "update" if operation == "UpdateItem" else "delete"
        return [WriteAction(params["TableName"], params["Key"], kind)]
    if operation == "BatchWriteItem":
        actions = []
        for table, requests in params["RequestItems"].items():
            schema = schemas[table]
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    actions.append(WriteAction(table, _key_of(schema, item), "put", item))
                else:
                    actions.append(WriteAction(table, request["DeleteRequest"]["Key"], "delete"))
        return actions
    if operation == "TransactWriteItems":
        actions = []
        for entry in params["TransactItems"]:
            ((kind, body),) = entry.items()
            table = body["TableName"]
            if kind == "Put":
                key = _key_of(schemas[table], body["Item"])
                actions.append(WriteAction(table, key, "put", body["Item"], transactional=True))
            else:
                name = {"Update": "update", "Delete": "delete", "ConditionCheck": "check"}[kind]
                actions.append(WriteAction(table, body["Key"], name, transactional=True))
        return actions
    return []


def consumed(
    operation: str,
    params: Mapping[str, Any],
    response: Mapping[str, Any],
    *,
    error: str | None,
    schemas: Mapping[str, TableSchema],
    before: Mapping[ItemRef, Item | None],
    after: Mapping[ItemRef, Item | None],
) -> Consumption:
    """Capacity units a DynamoDB request consumed. `before` holds the items a write found
    (None: absent), `after` what an update left; both keyed by `TableSchema.ref`."""
    usage = Consumption()
    if operation in READS:
        if error is None:
            for label, units in _reads(operation, params, response, schemas):
                usage.add(label, units)
        return usage
    if operation not in WRITES:
        return usage
    actions = write_actions(operation, params, schemas)
    if operation == "BatchWriteItem" and error is None:
        unprocessed = {
            (table, key_id(_request_key(schemas[table], request)))
            for table, requests in (response.get("UnprocessedItems") or {}).items()
            for request in requests
        }
        actions = [a for a in actions if (a.table, key_id(a.key)) not in unprocessed]
    failed_condition = error in ("ConditionalCheckFailedException", "TransactionCanceledException")
    if error is not None and not failed_condition:
        return usage  # throttled or refused before any work: nothing is charged
    for action in actions:
        schema = schemas[action.table]
        ref = (action.table, key_id(action.key))
        old = before.get(ref)
        factor = 2 if action.transactional else 1
        if failed_condition or action.kind == "check":
            usage.add(schema.label, Units(write=factor * write_units(item_size(old))))
            continue
        new = action.item if action.kind == "put" else after.get(ref)
        if action.kind == "delete":
            new = None
        size = max(item_size(old), item_size(new))
        usage.add(
            schema.label,
            Units(
                write=factor * write_units(size),
                index_write=sum(write_units(s) for s in _index_entries(schema, old, new)),
            ),
        )
    return usage


def _reads(
    operation: str,
    params: Mapping[str, Any],
    response: Mapping[str, Any],
    schemas: Mapping[str, TableSchema],
) -> Iterator[tuple[str, Units]]:
    if operation == "GetItem":
        consistent = bool(params.get("ConsistentRead"))
        size = item_size(response.get("Item"))
        yield (
            schemas[params["TableName"]].label,
            Units(read=read_units(size, consistent=consistent)),
        )
    elif operation == "BatchGetItem":
        unprocessed = response.get("UnprocessedKeys") or {}
        for table, request in params["RequestItems"].items():
            schema = schemas[table]
            consistent = bool(request.get("ConsistentRead"))
            found = {schema.ref(item): item for item in response["Responses"].get(table, [])}
            skipped = {key_id(key) for key in unprocessed.get(table, {}).get("Keys", [])}
            units = 0.0
            for key in request["Keys"]:
                if key_id(key) in skipped:
                    continue
                item = found.get((table, key_id(key)))
                units += read_units(item_size(item), consistent=consistent)
            yield schema.label, Units(read=units)
    elif operation in ("Query", "Scan"):
        consistent = bool(params.get("ConsistentRead"))
        size = sum(item_size(item) for item in response.get("Items", []))
        yield (
            schemas[params["TableName"]].label,
            Units(read=read_units(size, consistent=consistent)),
        )
    elif operation == "TransactGetItems":
        for entry, answer in zip(
            params["TransactItems"], response.get("Responses", []), strict=False
        ):
            schema = schemas[entry["Get"]["TableName"]]
            yield (
                schema.label,
                Units(read=2 * read_units(item_size(answer.get("Item")), consistent=True)),
            )


def _index_entries(schema: TableSchema, old: Item | None, new: Item | None) -> list[int]:
    """Sizes of the index entries a write puts or deletes."""
    sizes = []
    for _, index_keys in schema.indexes:
        was, now = _index_key(old, index_keys), _index_key(new, index_keys)
        if was == now:
            continue
        projected = (*schema.keys, *index_keys)
        if was is not None:
            sizes.append(_entry_size(old, projected))
        if now is not None:
            sizes.append(_entry_size(new, projected))
    return sizes


def _index_key(item: Item | None, names: tuple[str, ...]) -> str | None:
    if not item or any(name not in item for name in names):
        return None
    return key_id({name: item[name] for name in names})


def _entry_size(item: Item | None, names: tuple[str, ...]) -> int:
    assert item is not None
    return item_size({name: item[name] for name in dict.fromkeys(names)})


def _key_of(schema: TableSchema, item: Item) -> dict[str, Any]:
    return {name: item[name] for name in schema.keys}


def _request_key(schema: TableSchema, request: Mapping[str, Any]) -> Item:
    if "PutRequest" in request:
        return _key_of(schema, request["PutRequest"]["Item"])
    key: Item = request["DeleteRequest"]["Key"]
    return key
