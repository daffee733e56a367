"""Backfill: when a segment is created or changed, every existing profile is evaluated
against it in the background, in parallel parts of a table scan (the one place a scan is
right: every profile must be read once).

A task is one page of one part: it evaluates the page, writes the profiles whose membership
changed (conditionally, like every profile write), records progress, and queues the next page
of its part. A task that finds its segment changed again stops: the newer backfill covers it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from cdp.profiles.profile import Profile
from cdp.segments.definitions import Definitions, ProfilesToEvaluate, reevaluate

PARTS = 4
PAGE = 200


@dataclass(frozen=True)
class BackfillTask:
    segment_id: str
    version: str  # when the definition was stored; a newer one supersedes this backfill
    part: int
    parts: int
    start_key: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> BackfillTask:
        return cls(**json.loads(text))


def first_tasks(segment_id: str, version: str, parts: int = PARTS) -> list[BackfillTask]:
    return [BackfillTask(segment_id, version, part, parts) for part in range(parts)]


class ScannableProfiles(ProfilesToEvaluate, Protocol):
    def scan_page(
        self, part: int, parts: int, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[Profile], dict[str, Any] | None]: ...


@dataclass(frozen=True)
class PageOutcome:
    evaluated: int
    written: list[str]
    next_task: BackfillTask | None

    @property
    def changed(self) -> int:
        return len(self.written)


def run_page(
    task: BackfillTask,
    store: ScannableProfiles,
    *,
    definitions: Definitions,
    now: datetime,
    page: int = PAGE,
) -> PageOutcome:
    profiles, last_key = store.scan_page(task.part, task.parts, task.start_key, page)
    written = [
        scanned.profile_id
        for scanned in profiles
        if reevaluate(store, scanned.profile_id, definitions, now, profile=scanned).written
    ]
    next_task = (
        BackfillTask(task.segment_id, task.version, task.part, task.parts, last_key)
        if last_key
        else None
    )
    return PageOutcome(evaluated=len(profiles), written=written, next_task=next_task)
