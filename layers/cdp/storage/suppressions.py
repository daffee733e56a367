"""The suppressions table, read on the hot path with care for cost: one small read a minute
says whether anyone was ever erased (most deployments: a few people, or nobody), and only
then are a request's identities looked up, with answers cached for a minute per warm
function (`suppression_cache_seconds`). An erasure therefore stops late events within about a
minute everywhere; the erasure's delayed sweep removes what slipped through in that minute."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from cdp.privacy.suppression import identity_hash
from cdp.storage.batches import PATIENT, puts, write_all
from cdp.storage.secrets import secret

ANY = "#any"
BATCH_GET_LIMIT = 100


class SuppressionSettings(Protocol):
    """The settings of a function that checks erased people."""

    @property
    def suppressions_table(self) -> str: ...
    @property
    def suppression_pepper_name(self) -> str: ...
    @property
    def suppression_cache_seconds(self) -> int: ...


class SuppressionList:
    @classmethod
    def from_settings(cls, settings: SuppressionSettings, *, client: Any) -> SuppressionList:
        return cls(
            settings.suppressions_table,
            client=client,
            pepper=secret(settings.suppression_pepper_name),
            ttl_seconds=settings.suppression_cache_seconds,
        )

    def __init__(
        self,
        table: str,
        *,
        client: Any,
        pepper: Callable[[], str],
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.table = table
        self.client = client
        self.pepper = pepper
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.max_entries = max_entries
        self._any: tuple[float, bool] | None = None
        self._cache: OrderedDict[str, tuple[float, bool]] = OrderedDict()

    def suppressed(self, identities: Iterable[str]) -> set[str]:
        """The identities, of `identities`, that belong to an erased person."""
        wanted = set(identities)
        if not wanted or not self._anyone():
            return set()
        now = self.clock()
        pepper = self.pepper()
        hashes = {identity: identity_hash(identity, pepper) for identity in wanted}
        unknown = [h for h in hashes.values() if (c := self._cache.get(h)) is None or c[0] <= now]
        for start in range(0, len(unknown), BATCH_GET_LIMIT):
            keys = [{"identity_hash": {"S": h}} for h in unknown[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            found: set[str] = set()
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                found |= {i["identity_hash"]["S"] for i in answer["Responses"].get(self.table, [])}
                request = answer.get("UnprocessedKeys") or {}
            for key in keys:
                value = key["identity_hash"]["S"]
                self._remember(value, value in found, now)
        return {identity for identity, h in hashes.items() if self._cache[h][1]}

    def add(self, identities: Iterable[str], *, at: str) -> None:
        pepper = self.pepper()
        items = [identity_hash(identity, pepper) for identity in sorted(set(identities))]
        marks = [{"identity_hash": {"S": h}, "suppressed_at": {"S": at}} for h in [*items, ANY]]
        write_all(self.client, puts(self.table, marks), retry=PATIENT)
        now = self.clock()
        for h in items:
            self._remember(h, True, now)
        self._any = (now + self.ttl_seconds, True)

    def _anyone(self) -> bool:
        now = self.clock()
        if self._any is None or self._any[0] <= now:
            item = self.client.get_item(
                TableName=self.table, Key={"identity_hash": {"S": ANY}}
            ).get("Item")
            self._any = (now + self.ttl_seconds, item is not None)
        return self._any[1]

    def _remember(self, key: str, suppressed: bool, now: float) -> None:
        self._cache[key] = (now + self.ttl_seconds, suppressed)
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
