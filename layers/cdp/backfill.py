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

from cdp.builder import WriteConflictError
from cdp.computed import ComputedTraitDefinition
from cdp.profile import Profile, update_segments
from cdp.segments import CompiledSegment

PARTS = 4
PAGE = 200
ATTEMPTS = 4


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


class ScannableProfiles(Protocol):
    def scan_page(
        self, part: int, parts: int, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[Profile], dict[str, Any] | None]: ...

    def get(self, profile_id: str, *, consistent: bool = True) -> Profile | None: ...

    def put(self, profile: Profile) -> None: ...


@dataclass(frozen=True)
class PageOutcome:
    evaluated: int
    changed: int
    next_task: BackfillTask | None


def run_page(
    task: BackfillTask,
    store: ScannableProfiles,
    *,
    definitions: tuple[ComputedTraitDefinition, ...],
    segments: tuple[CompiledSegment, ...],
    now: datetime,
    page: int = PAGE,
) -> PageOutcome:
    profiles, last_key = store.scan_page(task.part, task.parts, task.start_key, page)
    changed = 0
    for scanned in profiles:
        profile: Profile | None = scanned
        for _ in range(ATTEMPTS):
            if profile is None:
                break
            change, moved = update_segments(profile, segments, definitions, now)
            if not change and not moved:
                break
            try:
                store.put(profile)
                changed += 1
                break
            except WriteConflictError:
                profile = store.get(scanned.profile_id)
    next_task = (
        BackfillTask(task.segment_id, task.version, task.part, task.parts, last_key)
        if last_key
        else None
    )
    return PageOutcome(evaluated=len(profiles), changed=changed, next_task=next_task)
