"""A query in `cdp dev` reads its partition, as DynamoDB does.

moto answers each Query page by sorting every item of the table, then keeping the partition's:
with 10,000 events stored, a query that finds nothing took half a second, and a person's
timeline (a query per identity, a page per megabyte) several. Here a query of a table's own
key (not an index) is shown only its partition's items; what it answers is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_asked = threading.local()  # the (table, hash key) of the query this thread is answering


def install() -> Callable[[], None]:
    """Narrow moto's queries; answers what puts them back as they were."""
    from moto.dynamodb.models.table import Table

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

    def restore() -> None:
        Table.query, Table.all_items = whole_query, whole_table  # type: ignore[method-assign]

    return restore
