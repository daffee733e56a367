"""A query in `cdp dev` reads its partition, as DynamoDB does, and answers in JSON at once.

moto answers each Query page by sorting every item of the table, then keeping the partition's,
copies every item it projects, and writes its answer through a serializer that walks the
API's shapes value by value: with 10,000 events stored, a query that found nothing took half
a second, and reading one person's 10,000 events five. Here a query of a table's own key
(not an index) is shown only its partition's items, a projection of top-level attributes
hands them on without a copy, and every query's answer (already plain data) is written with
`json`, as DynamoDB's JSON protocol has it (binary values in base64). What it answers is
unchanged.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

_asked = threading.local()  # the (table, hash key) of the query this thread is answering


def install() -> Callable[[], None]:
    """Narrow moto's queries; answers what puts them back as they were."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    whole_query, whole_table = Table.query, Table.all_items
    if getattr(whole_query, "reads_its_partition", False):
        return lambda: None

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("index_name") or hash_key is None or not self.range_key_attr:
            return whole_query(self, hash_key, *args, **kwargs)
        _asked.partition = (self, hash_key)
        try:
            return whole_query(self, hash_key, *args, **kwargs)
        finally:
            _asked.partition = None

    def all_items(self: Any) -> list[Any]:
        asked = getattr(_asked, "partition", None)
        if asked is None or asked[0] is not self:
            return whole_table(self)
        # `get`: moto's items are a defaultdict, and `[]` would add an empty partition.
        partition = self.items.get(asked[1], {})
        return sorted(partition.values(), key=lambda item: item.range_key)

    query.reads_its_partition = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    serialized_answer = DynamoHandler.query

    def answer_in_json(self: Any) -> Any:
        answer = serialized_answer(self)
        return json.dumps(answer.result, default=_base64, separators=(",", ":"))

    DynamoHandler.query = answer_in_json  # type: ignore[method-assign]
    copied_projection = Item.project

    def project(self: Any, paths: list[list[str]]) -> Any:
        """Top-level attributes are handed on as they are: moto copied the whole item to
        find them. A path into an attribute is moto's to follow."""
        if not all(len(path) == 1 and "[" not in path[0] for path in paths):
            return copied_projection(self, paths)
        names = [path[0] for path in paths]
        kept = {name: self.attrs[name] for name in names if name in self.attrs}
        return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=kept)

    Item.project = project  # type: ignore[method-assign,assignment]

    def restore() -> None:
        Table.query, Table.all_items = whole_query, whole_table  # type: ignore[method-assign]
        DynamoHandler.query = serialized_answer  # type: ignore[method-assign]
        Item.project = copied_projection  # type: ignore[method-assign]

    return restore


def _base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")
