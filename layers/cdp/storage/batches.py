"""BatchWriteItem to the end: every request written, what DynamoDB leaves unprocessed sent
again after a backoff, and `StorageBusyError` when it keeps refusing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cdp.runtime.errors import StorageBusyError

BATCH_LIMIT = 25  # BatchWriteItem's maximum number of requests per call


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for UnprocessedItems: full jitter, doubling, bounded in attempts.

    The default budget (about 1.5 s of waiting at most) keeps an API answer fast; past it the
    caller answers 503 so the client retries later, which is safe because writes are
    idempotent.
    """

    attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 0.8

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311


# For writes a person asked for once (an erasure, its suppression marks): a busy table should
# delay them (about 6 s of waiting at most), not fail them.
PATIENT = RetryPolicy(attempts=10, max_delay=1.0)


def write_all(
    client: Any,
    requests: Sequence[tuple[str, dict[str, Any]]],
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send (table, `PutRequest` or `DeleteRequest`) pairs, 25 a call, any tables together."""
    policy = retry or RetryPolicy()
    for start in range(0, len(requests), BATCH_LIMIT):
        pending: dict[str, list[dict[str, Any]]] = {}
        for table, request in requests[start : start + BATCH_LIMIT]:
            pending.setdefault(table, []).append(request)
        for attempt in range(policy.attempts):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            if attempt + 1 < policy.attempts:
                sleep(policy.delay(attempt))
        else:
            raise StorageBusyError("the store is busy; retry this request in a moment")


def puts(table: str, items: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(table, {"PutRequest": {"Item": item}}) for item in items]


def deletes(table: str, keys: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(table, {"DeleteRequest": {"Key": key}}) for key in keys]
