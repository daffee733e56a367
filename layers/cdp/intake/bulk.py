"""The import bucket: a CSV or JSON Lines file dropped into `imports/<source>/` is imported
server-side (for files too large to send from a laptop), with the same row mapping as
`cdp import`, writing straight to the events table.

Beside the file it leaves `<file>.progress.json` (how far, and when done, the figures) and
`<file>.rejected.jsonl` (rows refused, with reasons). A file that takes longer than one
function run is continued by a `<file>.continue.json` marker, whose arrival starts the next run
where the last one stopped.

S3 notifications arrive at least once, so every run first claims its stretch of the file by a
conditional write of the progress file (If-Match on the ETag it read): of two deliveries of one
notification only one runs, and the other finds the work claimed or done. A claim is a lease:
a run that died (after Lambda's own retries, which carry the same request id) is taken over
by the next delivery after `LEASE_SECONDS`. Rows keep deterministic message ids, so whatever
runs twice stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from cdp.intake.importing import (
    ImportMapping,
    Row,
    RowRejectedError,
    rejected_line,
    row_message,
    rows,
)
from cdp.intake.messages import Intake, read_request
from cdp.profiles.identity import DEFAULT_POLICY, Placeholders
from cdp.runtime.clock import iso

PREFIX = "imports/"
# Files in the private import bucket come from systems of record.
IMPORTED = frozenset({"observed", "imported"})
CONTINUE = ".continue.json"
BATCH = 500
LEASE_SECONDS = 960  # the function's 15 minutes, and a minute more


@dataclass(frozen=True)
class ImportFile:
    key: str
    source: str
    file_format: str

    @classmethod
    def of(cls, key: str) -> ImportFile | None:
        """The import a key names: `imports/<source>/<name>.csv|.jsonl`; None otherwise."""
        parts = key.split("/")
        if len(parts) < 3 or parts[0] + "/" != PREFIX:
            return None
        name = parts[-1]
        for suffix, kind in ((".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl")):
            if name.endswith(suffix):
                return cls(key=key, source=parts[1], file_format=kind)
        return None


class Objects(Protocol):
    def lines(self, key: str) -> Iterable[bytes]: ...

    def modified(self, key: str) -> datetime | None: ...  # None: no such object

    def text(self, key: str) -> str | None: ...

    def tagged(self, key: str) -> tuple[str, str] | None: ...  # (text, ETag)

    def write(self, key: str, text: str) -> None: ...

    def write_if(self, key: str, text: str, *, etag: str | None) -> str | None:
        """Write only if the object still has `etag` (None: only if it does not exist);
        answer the new ETag, or None when someone else wrote first."""
        ...


@dataclass
class RunOutcome:
    rows_done: int = 0
    stored: int = 0
    rejected: int = 0
    finished: bool = False
    rejects: list[str] = field(default_factory=list)


class MappingError(ValueError):
    """The file cannot be imported at all; the reason goes to its progress file."""


def mapping_for(objects: Objects, file: ImportFile) -> ImportMapping:
    """`<file>.mapping.json` beside the file, else `imports/<source>/mapping.json`."""
    for key in (file.key + ".mapping.json", f"{PREFIX}{file.source}/mapping.json"):
        text = objects.text(key)
        if text is None:
            continue
        try:
            return ImportMapping.model_validate_json(text)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'mapping'}: {e['msg']}" for e in error.errors()
            )
            raise MappingError(f"{key} is not a valid mapping: {problems}") from None
    raise MappingError(
        f"no mapping: put {file.key}.mapping.json or {PREFIX}{file.source}/mapping.json"
    )


def run(
    objects: Objects,
    file: ImportFile,
    mapping: ImportMapping,
    *,
    start_after: int,
    save: Callable[[Intake, datetime], None],
    clock: Callable[[], datetime],
    time_left: Callable[[], float],
    placeholders: Placeholders = DEFAULT_POLICY,
) -> RunOutcome:
    """Import rows after `start_after` until the file ends or time runs short."""
    modified = objects.modified(file.key) or clock()
    outcome = RunOutcome(rows_done=start_after)
    pending: list[tuple[Row, dict[str, Any]]] = []

    def flush() -> None:
        if not pending:
            return
        now = clock()
        intake = read_request(
            {"batch": [message for _, message in pending]}, "batch", source=file.source,
            received_at=now, claims=IMPORTED, placeholders=placeholders,
        )  # fmt: skip
        for rejection in intake.rejections:
            assert rejection.index is not None
            outcome.rejects.append(rejected_line(pending[rejection.index][0], rejection.reason))
        save(intake, now)
        outcome.stored += len(intake.events)
        outcome.rejected += len(intake.rejections)
        outcome.rows_done = pending[-1][0].number
        pending.clear()

    for row in rows(objects.lines(file.key), file.file_format):  # type: ignore[arg-type]
        if row.number <= start_after:
            continue
        try:
            message = row_message(
                row, mapping, source=file.source, file_id=file.key.split("/")[-1],
                default_time=modified,
            )  # fmt: skip
            pending.append((row, message))
        except RowRejectedError as error:
            outcome.rejects.append(rejected_line(row, str(error)))
            outcome.rejected += 1
        if len(pending) >= BATCH:
            flush()
            if time_left() < 60:
                return outcome  # not finished: the caller leaves a continue marker
    flush()
    outcome.finished = True
    return outcome


@dataclass(frozen=True)
class Claim:
    """The stretch of a file one run may import: after `start_after`, of this `version`."""

    file: ImportFile
    version: str  # the file's modification time: a new upload is a new import
    start_after: int
    progress: dict[str, Any]


def claim(objects: Objects, key: str, *, run_id: str, now: datetime) -> Claim | str:
    """Claim the work a notification for `key` (a file or its continue marker) stands for;
    answer why not, when there is nothing to do."""
    target = _target(objects, key)
    if isinstance(target, str):
        return target
    file, version, start_after, continued = target
    tagged = objects.tagged(progress_key(file))
    before: dict[str, Any] = json.loads(tagged[0]) if tagged else {}
    same_upload = before.get("version") == version
    if same_upload and not _may_take(before, start_after, run_id, now):
        return "claimed or done by another run"
    if continued and not same_upload:
        return "no import of this file is under way"
    progress = {
        **(before if same_upload else {"stored": 0, "rejected": 0}),
        "version": version,
        "status": "running",
        "rows_done": start_after,
        "run": run_id,
        "claimed_at": now.timestamp(),
    }
    etag = objects.write_if(
        progress_key(file), json.dumps(progress), etag=tagged[1] if tagged else None
    )
    if etag is None:
        return "claimed by another run"
    return Claim(file, version, start_after, progress)


def _target(objects: Objects, key: str) -> tuple[ImportFile, str, int, bool] | str:
    """The file a notification is about, its version, where to start, and whether it is a
    continuation; or why there is nothing to do."""
    marker: dict[str, Any] = {}
    if key.endswith(CONTINUE):
        marker = json.loads(objects.text(key) or "null") or {}
        key = marker.get("key", "")
    file = ImportFile.of(key)
    if file is None:
        return "not an import file (imports/<source>/<name>.csv|.jsonl)"
    modified = objects.modified(key)
    if modified is None:
        return "the file is gone"
    version = modified.isoformat()
    if marker and marker.get("version") != version:
        return "the file was replaced since"
    return file, version, int(marker.get("rows_done", 0)), bool(marker)


def _may_take(progress: dict[str, Any], start_after: int, run_id: str, now: datetime) -> bool:
    """Whether a run may (re)start at `start_after`, given what the progress file says."""
    if progress.get("status") != "running" or progress.get("rows_done") != start_after:
        return False  # done, failed, or already past this point: a repeated notification
    if progress.get("run") in (None, run_id):
        return True  # handed over by the run before, or Lambda retrying our own attempt
    return float(progress.get("claimed_at", 0)) + LEASE_SECONDS < now.timestamp()


def finish(objects: Objects, work: Claim, outcome: RunOutcome | str, now: datetime) -> None:
    """Record a run's outcome beside the file, and continue it if time ran out."""
    file = work.file
    if isinstance(outcome, str):  # the file cannot be imported at all
        progress = {**work.progress, "status": "failed", "error": outcome}
    else:
        _write_rejects(objects, work, outcome.rejects)
        progress = {
            **work.progress,
            "status": "done" if outcome.finished else "running",
            "rows_done": outcome.rows_done,
            "stored": work.progress["stored"] + outcome.stored,
            "rejected": work.progress["rejected"] + outcome.rejected,
            "run": None,  # handed over: the continue marker's run claims it next
        }
    progress["updated_at"] = iso(now)
    objects.write(progress_key(file), json.dumps(progress))
    if not isinstance(outcome, str) and not outcome.finished:
        marker = {"key": file.key, "version": work.version, "rows_done": outcome.rows_done}
        objects.write(file.key + CONTINUE, json.dumps(marker))


def _write_rejects(objects: Objects, work: Claim, rejects: list[str]) -> None:
    """Append this run's rejected rows; lines past `start_after` are from an attempt that
    died, and are dropped (those rows were read again)."""
    earlier = objects.text(rejects_key(work.file)) or ""
    kept = [line for line in earlier.splitlines(keepends=True)
            if json.loads(line)["row"] <= work.start_after]  # fmt: skip
    if rejects or len(kept) < earlier.count("\n"):
        objects.write(rejects_key(work.file), "".join(kept + rejects))


def progress_key(file: ImportFile) -> str:
    return file.key + ".progress.json"


def rejects_key(file: ImportFile) -> str:
    return file.key + ".rejected.jsonl"
