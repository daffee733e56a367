"""The import bucket: a CSV or JSON Lines file dropped into `imports/<source>/` is imported
server-side (for files too large to send from a laptop), with the same row mapping as
`cdp import`, writing straight to the events table.

Beside the file it leaves `<file>.progress.json` (how far, and when done, the figures) and
`<file>.rejected.jsonl` (rows refused, with reasons). A file that takes longer than one
function run is continued by a `<file>.continue.json` marker, whose arrival starts the next run
where the last one stopped. Rows keep deterministic message ids, so a run repeated by S3's
at-least-once notifications stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from cdp.importing import ImportMapping, Row, RowRejectedError, rejected_line, row_message, rows
from cdp.intake import Intake, read_request

PREFIX = "imports/"
CONTINUE = ".continue.json"
BATCH = 500


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

    def modified(self, key: str) -> datetime: ...

    def text(self, key: str) -> str | None: ...

    def write(self, key: str, text: str) -> None: ...


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
) -> RunOutcome:
    """Import rows after `start_after` until the file ends or time runs short."""
    modified = objects.modified(file.key)
    outcome = RunOutcome(rows_done=start_after)
    pending: list[tuple[Row, dict[str, Any]]] = []

    def flush() -> None:
        if not pending:
            return
        now = clock()
        intake = read_request(
            {"batch": [message for _, message in pending]}, "batch", source=file.source,
            received_at=now,
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


def report(outcome: RunOutcome, previous: dict[str, Any] | None, now: str) -> dict[str, Any]:
    """The progress file's content, adding up the runs of one file."""
    before = previous or {}
    return {
        "status": "done" if outcome.finished else "running",
        "rows_done": outcome.rows_done,
        "stored": before.get("stored", 0) + outcome.stored,
        "rejected": before.get("rejected", 0) + outcome.rejected,
        "updated_at": now,
    }


def continuation(file: ImportFile, rows_done: int) -> tuple[str, str]:
    return file.key + CONTINUE, json.dumps({"key": file.key, "rows_done": rows_done})
