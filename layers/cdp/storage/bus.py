"""Putting events on the EventBridge bus, retrying the entries it did not take."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from cdp.sharing.changes import SOURCE, Published

PUT_LIMIT = 10  # entries per PutEvents call


class BusUnavailableError(Exception):
    """EventBridge kept refusing entries; the stream record is retried."""


class EventBus:
    def __init__(
        self,
        name: str,
        *,
        client: Any,
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.client = client
        self.attempts = attempts
        self.sleep = sleep

    def publish(self, events: list[Published]) -> None:
        entries = [
            {
                "Source": SOURCE,
                "DetailType": event.detail_type,
                "Detail": json.dumps(event.detail, separators=(",", ":")),
                "EventBusName": self.name,
            }
            for event in events
        ]
        for start in range(0, len(entries), PUT_LIMIT):
            self._put(entries[start : start + PUT_LIMIT])

    def _put(self, entries: list[dict[str, Any]]) -> None:
        for attempt in range(self.attempts):
            answer = self.client.put_events(Entries=entries)
            if not answer.get("FailedEntryCount"):
                return
            # Entries come back in order; keep only those that failed.
            entries = [
                entry
                for entry, result in zip(entries, answer["Entries"], strict=True)
                if result.get("ErrorCode")
            ]
            if attempt + 1 < self.attempts:
                self.sleep(random.uniform(0, 0.1 * 2**attempt))  # noqa: S311
        raise BusUnavailableError(f"{len(entries)} events were not accepted by the bus")
