"""A query in `cdp dev` reads its partition, as DynamoDB does, and answers in JSON at once.

moto answers each Query page by sorting every item of the table, then keeping the partition's
(comparing sort keys by casting both sides, each time), walks the items of earlier pages one
comparison at a time, counts each item's size twice, copies every item it hands out, and
writes its answer through a serializer that walks the API's shapes value by value. With
10,000 events stored, a query that found nothing took half a second and reading one person's
10,000 events five. Here a query of a table's own key (not an index) sorts only its
partition's items, each key cast once, starts past its start key by bisection, hands on
the attributes of a top-level projection without a copy, and every query's answer (already
plain data) is written with `json`, as DynamoDB's JSON protocol has it (binary values in
base64). What it answers is unchanged: `tests/unit/test_local_partitions.py` compares every
page with moto's own.
"""

from __future__ import annotations

import base64
import copy
import inspect
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any


def install() -> Callable[[], None]:
    """Narrow moto's queries; answers what puts them back as they were."""
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table
    from moto.dynamodb.responses import DynamoHandler

    whole_query = Table.query
    if getattr(whole_query, "reads_its_partition", False):
        return lambda: None

    signature = inspect.signature(whole_query)

    def query(self: Any, *positional: Any, **named: Any) -> Any:
        asked = signature.bind(self, *positional, **named)
        asked.apply_defaults()
        q = asked.arguments
        conditions = q["range_key_conditions"] or []
        if (
            q["index_name"]
            or q["hash_key"] is None
            or not self.range_key_attr
            or q["filter_kwargs"]
            or any(name != self.range_key_attr for name, _, _ in conditions)
        ):
            return whole_query(self, *positional, **named)
        range_comparison, range_objs = q["range_comparison"], q["range_objs"]
        limit, projection_expressions = q["limit"], q["projection_expressions"]
        filter_expression = q["filter_expression"]
        items = _in_order(
            self, q["hash_key"], q["exclusive_start_key"], forward=q["scan_index_forward"]
        )
        found: list[Any] = []
        size = 0
        last_key = None
        for item in items:
            item_size = _size(item)
            if len(found) == limit or size + item_size > RESULT_SIZE_LIMIT:
                last_key = self._get_last_evaluated_key(found[-1], None)
                break
            if range_comparison is None or item.range_key.compare(range_comparison, range_objs):
                found.append(item)
                size += item_size
        scanned = len(found)
        if filter_expression is not None:
            found = [item for item in found if filter_expression.expr(item)]
        if projection_expressions and _top_level(projection_expressions):
            names = tuple(path[0] for path in projection_expressions)
            found = [_Projected(item, names) for item in found]
        else:  # what moto answers is a copy of its items
            found = copy.deepcopy(found)
            if projection_expressions:
                found = [item.project(projection_expressions) for item in found]
        return found, scanned, last_key

    query.reads_its_partition = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    serialized_answer = DynamoHandler.query

    def answer_in_json(self: Any) -> Any:
        answer = serialized_answer(self)
        return json.dumps(answer.result, default=_plain, separators=(",", ":"))

    DynamoHandler.query = answer_in_json  # type: ignore[method-assign]

    def restore() -> None:
        Table.query = whole_query  # type: ignore[method-assign]
        DynamoHandler.query = serialized_answer  # type: ignore[method-assign]

    return restore


def _in_order(table: Any, hash_key: Any, start: dict[str, Any] | None, *, forward: bool) -> Any:
    """The partition's items in the query's order, past its start key: each item's sort key
    is read once (moto cast both sides of every comparison, and walked the items before the
    start key one comparison at a time)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    # `get`: moto's items are a defaultdict, and `[]` would add an empty partition.
    keyed = [(_sort_value(i.range_key), i) for i in table.items.get(hash_key, {}).values()]
    keyed.sort(key=lambda pair: pair[0])
    items = [item for _, item in keyed]
    if start is not None:
        keys = [key for key, _ in keyed]
        after = _sort_value(DynamoType(start[table.range_key_attr]))
        items = items[bisect_right(keys, after) :] if forward else items[: bisect_left(keys, after)]
    return items if forward else reversed(items)


def _sort_value(key: Any) -> Any:
    """What moto compares sort keys by (`cast_value`), a string's read as it is."""
    return key.value if key.type == "S" else key.cast_value


def _size(item: Any) -> int:
    """`Item.size()` as moto counts it, with strings, numbers and binaries counted here."""
    total = 0
    for name, value in item.attrs.items():
        kind = value.type
        if kind in {"S", "B"}:
            raw = value.value
            total += len(raw if isinstance(raw, bytes) else raw.encode())
        elif kind == "N":
            total += len(str(value.value))
        else:
            total += value.size()
        total += len(name.encode())
    return total


def _top_level(paths: list[list[str]]) -> bool:
    return all(len(path) == 1 and "[" not in path[0] for path in paths)


class _Projected:
    """An item's projection of top-level attributes, as a query hands it to its answer.

    moto copied each item whole to find the attributes, made a new item checking its size
    one attribute at a time, and walked the answer value by value (`dynamo_to_dict`). This
    keeps the item and the names, one object per item; the answer reads `attrs`, hands it on
    as it is, and `answer_in_json` writes it. Nothing changes an item meanwhile: the answer
    is written before the request ends."""

    __slots__ = ("item", "names")

    def __init__(self, item: Any, names: tuple[str, ...]) -> None:
        self.item = item
        self.names = names

    @property
    def attrs(self) -> _Projected:
        return self

    def as_json(self) -> dict[str, Any]:
        from moto.dynamodb.models.utilities import dynamo_to_dict

        attrs = self.item.attrs
        written: dict[str, Any] = {}
        for name in self.names:
            value = attrs.get(name)
            if value is None:
                continue
            kind = value.type
            as_it_is = kind in _AS_THEY_ARE or (kind == "B" and isinstance(value.value, str))
            written[name] = {kind: value.value} if as_it_is else dynamo_to_dict(value)
        return written


_AS_THEY_ARE = frozenset({"S", "N", "BOOL", "NULL"})  # (and a binary still in base64)


def _plain(value: Any) -> Any:
    """What `json` cannot write itself: binary values (in base64) and projected items."""
    if isinstance(value, _Projected):
        return value.as_json()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")
