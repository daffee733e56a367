"""moto writes DynamoDB's item answers and its streams' records with `json`, and finds a
request's handler method at once. The answers are the same: `tests/unit/test_local_answers.py`
compares them with moto's.

For every request moto listed the handler class's methods (`inspect.getmembers`, a few hundred
names) to see whether it has the action's, and wrote each answer through a serializer that
walks the API's shapes value by value: together about a fifth of what an item read or write
cost in the tests and in `cdp dev`, and 0.7 ms per record of a stream's GetRecords (each
stream has two readers in `cdp dev`). Here a class's method names are listed once, and the
answers of the operations below (plain data by then) are written with `json` under the same
status and headers: binary values in base64 and times in epoch seconds, as the JSON protocol
has them. Errors, and every other operation, still go through moto's serializer.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from typing import Any

# The operations whose answers are items, keys, stream records and consumed capacity: plain
# data with no shapes of other wire names for the serializer to convert.
ITEM_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem",
    "Query", "Scan", "TransactGetItems", "TransactWriteItems",
})  # fmt: skip
STREAM_OPERATIONS = frozenset({"GetRecords"})
CONTENT_TYPE = "application/x-amz-json-1.0"  # DynamoDB's JSON protocol, version 1.0


def install() -> Callable[[], None]:
    """Answers what puts moto back as it was."""
    import moto.core.responses as core
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    names = vars(core)  # (moto's module imports the function; it does not export it)
    listed = names["method_names_from_class"]
    if getattr(listed, "listed_once", False):
        return lambda: None

    @functools.cache
    def method_names(clazz: object) -> frozenset[str]:
        return frozenset(listed(clazz))

    method_names.listed_once = True  # type: ignore[attr-defined]
    serialized = DynamoHandler.serialized  # (the streams' handler inherits the same one)

    def writer(service: str, operations: frozenset[str]) -> Callable[..., Any]:
        def in_json(self: Any, action_result: Any) -> Any:
            result = action_result.result
            action = self._get_action()
            if isinstance(result, Exception) or action not in operations:
                return serialized(self, action_result)
            body = json.dumps(_as_shape(result, _output_shape(service, action)), default=_plain)
            return 200, {"Content-Type": CONTENT_TYPE, **self.response_headers}, body

        return in_json

    names["method_names_from_class"] = method_names
    DynamoHandler.serialized = writer("dynamodb", ITEM_OPERATIONS)  # type: ignore[method-assign]
    DynamoDBStreamsHandler.serialized = writer("dynamodbstreams", STREAM_OPERATIONS)  # type: ignore[method-assign]

    def restore() -> None:
        names["method_names_from_class"] = listed
        DynamoHandler.serialized = serialized  # type: ignore[method-assign]
        del DynamoDBStreamsHandler.serialized

    return restore


@functools.cache
def _output_shape(service: str, operation: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model(service).operation_model(operation).output_shape


def _as_shape(value: Any, shape: Any) -> Any:
    """`value` as the serializer writes it: a structure's members in the shape's order and
    only those (moto's answer to DeleteItem, for one, also holds a `ConsumedCapacityUnits`),
    doubles as floats. Attribute values, and maps of them (items, keys), are written as they
    are: the serializer leaves their content as it is, binary values aside (`_plain`)."""
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
    if kind == "timestamp":
        from moto.core.serialize import TimestampSerializer

        return TimestampSerializer._timestamp_unixtimestamp(value)  # the serializer's own
    return float(value) if kind in ("double", "float") else value


def _as_it_is(shape: Any) -> bool:
    """An attribute value, or a map of them (an item, a key)."""
    if shape.type_name == "map":
        shape = shape.value
    return bool(shape.name == "AttributeValue")


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")
