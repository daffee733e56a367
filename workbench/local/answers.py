"""moto writes DynamoDB's item answers with `json`, and finds a request's handler method at
once. The answers are the same: `tests/unit/test_local_answers.py` compares them with moto's.

For every request moto listed the handler class's methods (`inspect.getmembers`, a few hundred
names) to see whether it has the action's, and wrote each answer through a serializer that
walks the API's shapes value by value: together about a fifth of what an item read or write
cost in the tests and in `cdp dev`. Here a class's method names are listed once, and the
answers of the item operations below (plain data by then: `DynamoResult`) are written with
`json` under the same status and headers, binary values in base64 as DynamoDB's JSON protocol
has them. Errors, and every other operation, still go through moto's serializer.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from typing import Any

# The operations whose answers are items, keys and consumed capacity: plain JSON, nothing for
# the serializer to convert (no timestamps, no shapes with other wire names).
ITEM_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem",
    "Scan", "TransactGetItems", "TransactWriteItems",
})  # fmt: skip
CONTENT_TYPE = "application/x-amz-json-1.0"  # DynamoDB's JSON protocol, version 1.0


def install() -> Callable[[], None]:
    """Answers what puts moto back as it was."""
    import moto.core.responses as core
    from moto.dynamodb.responses import DynamoHandler

    names = vars(core)  # (moto's module imports the function; it does not export it)
    listed = names["method_names_from_class"]
    if getattr(listed, "listed_once", False):
        return lambda: None

    @functools.cache
    def method_names(clazz: object) -> frozenset[str]:
        return frozenset(listed(clazz))

    method_names.listed_once = True  # type: ignore[attr-defined]
    serialized = DynamoHandler.serialized

    def in_json(self: Any, action_result: Any) -> Any:
        result = action_result.result
        action = self._get_action()
        if isinstance(result, Exception) or action not in ITEM_OPERATIONS:
            return serialized(self, action_result)
        body = json.dumps(_as_shape(result, _output_shape(action)), default=_base64)
        return 200, {"Content-Type": CONTENT_TYPE, **self.response_headers}, body

    names["method_names_from_class"] = method_names
    DynamoHandler.serialized = in_json  # type: ignore[method-assign]

    def restore() -> None:
        names["method_names_from_class"] = listed
        DynamoHandler.serialized = serialized  # type: ignore[method-assign]

    return restore


@functools.cache
def _output_shape(operation: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model("dynamodb").operation_model(operation).output_shape


def _as_shape(value: Any, shape: Any) -> Any:
    """`value` as the serializer writes it: a structure's members in the shape's order and
    only those (moto's answer to DeleteItem, for one, also holds a `ConsumedCapacityUnits`),
    doubles as floats. Attribute values, and maps of them (items, keys), are written as they
    are: the serializer leaves their content as it is, binary values aside (`_base64`)."""
    kind = shape.type_name
    if value is None or _as_it_is(shape):
        return value
    if kind == "structure":
        return {
            name: _as_shape(value[name], member)
            for name, member in shape.members.items()
            if name in value and value[name] is not None
        }
    if kind == "list":
        return [_as_shape(entry, shape.member) for entry in value]
    if kind == "map":
        return {key: _as_shape(entry, shape.value) for key, entry in value.items()}
    return float(value) if kind in ("double", "float") else value


def _as_it_is(shape: Any) -> bool:
    """An attribute value, or a map of them (an item, a key)."""
    if shape.type_name == "map":
        shape = shape.value
    return bool(shape.name == "AttributeValue")


def _base64(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")
