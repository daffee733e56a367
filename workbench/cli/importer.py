"""`cdp import FILE --source NAME`: a CRM export (CSV or JSON Lines) into the platform.

The file is streamed, sent in batches within the API's limits with retries, with a progress
line (rate and ETA). Progress is saved beside the file after every batch, so an interrupted
import resumes where it stopped; rows carry deterministic message ids, so a row sent twice is
stored once. Rows that cannot be imported go, with the reason, to `<file>.rejected.jsonl`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from cdp.intake.importing import (
    ImportMapping,
    Row,
    RowRejectedError,
    rejected_line,
    row_message,
    rows,
)
from workbench.cli.client import Api, CliError, basic, with_retries

MAX_BATCH_BYTES = 450 * 1024  # under the collector's 500 KB
MAX_BATCH_MESSAGES = 500
_QUOTED = re.compile(r"'[^']*'")


@dataclass
class Summary:
    """What became of every row read: sent now, sent by an earlier (interrupted) run, or
    rejected (now or then); the three always add up to the rows read."""

    read: int = 0
    sent: int = 0
    skipped: int = 0  # sent by an earlier, interrupted run
    rejected: Counter[str] = field(default_factory=Counter)

    def lines(self, rejects: Path, elapsed: float) -> list[str]:
        total = sum(self.rejected.values())
        lines = [
            f"rows read      {self.read:,}",
            f"sent           {self.sent:,}",
            f"already sent   {self.skipped:,} (an earlier run)",
            f"rejected       {total:,}" + (f"  -> {rejects}" if total else ""),
        ]
        lines += [f"  {count:,}  {reason}" for reason, count in self.rejected.most_common(10)]
        lines.append(f"took           {elapsed:.1f} s")
        return lines


class _Outbox:
    """Messages waiting to be sent as one batch; sending records rejects and progress."""

    def __init__(
        self, api: Api, key: str, rejects: IO[str], summary: Summary, save: Callable[[int], None]
    ) -> None:
        self.api = api
        self.key = key
        self.rejects = rejects
        self.summary = summary
        self.save = save  # (rows done) -> None
        self.messages: list[dict[str, Any]] = []
        self.rows: list[Row] = []
        self.size = 0

    def full_for(self, encoded: int, batch_size: int) -> bool:
        too_many = len(self.messages) >= batch_size
        return bool(self.messages) and (too_many or self.size + encoded > MAX_BATCH_BYTES)

    def add(self, row: Row, message: dict[str, Any], encoded: int) -> None:
        self.messages.append(message)
        self.rows.append(row)
        self.size += encoded

    def reject(self, row: Row, reason: str) -> None:
        self.rejects.write(rejected_line(row, reason))
        self.summary.rejected[_QUOTED.sub("...", reason)] += 1  # one line per kind of problem

    def send(self, last: Row) -> None:
        """Send what waits, then mark every row up to `last` as done."""
        if self.messages:
            answer = _send(self.api, self.key, self.messages)
            refused = answer.get("rejected", [])
            for entry in refused:
                self.reject(self.rows[entry["index"]], entry["reason"])
            self.summary.sent += len(self.messages) - len(refused)
        self.rejects.flush()
        self.save(last.number)
        self.messages, self.rows, self.size = [], [], 0


def run_import(
    api: Api,
    path: Path,
    *,
    source: str,
    mapping: ImportMapping,
    write_key: str | None,
    file_format: Literal["csv", "jsonl"] | None = None,
    batch_size: int = MAX_BATCH_MESSAGES,
    stop_after: int | None = None,
) -> Summary:
    """Import one file; `stop_after` (rows) simulates an interruption, for tests."""
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    kind = file_format or ("jsonl" if path.suffix in (".jsonl", ".ndjson") else "csv")
    key = write_key or _temporary_key(api, source)
    stat = path.stat()
    modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
    progress_file = path.with_name(path.name + ".cdp-progress.json")
    rejects_file = path.with_name(path.name + ".rejected.jsonl")
    done = _resume_from(progress_file, stat.st_size, stat.st_mtime, source)
    summary = Summary()
    rejected_before: set[int] = set()
    if done:  # rows after `done` are read again: forget what was said of them
        for row_number, reason in _keep_rejects_until(rejects_file, done):
            summary.rejected[_QUOTED.sub("...", reason)] += 1
            rejected_before.add(row_number)
    meter = _Meter(stat.st_size)

    def save(rows_done: int) -> None:
        _save_progress(progress_file, stat.st_size, stat.st_mtime, source, rows_done)

    with path.open("rb") as stream, rejects_file.open("a" if done else "w") as rejects:
        outbox = _Outbox(api, key, rejects, summary, save)
        last: Row | None = None
        for row in rows(stream, kind):
            last = row
            summary.read += 1
            if row.number <= done:
                # done by the earlier run: sent then, or among its rejects (counted above)
                summary.skipped += row.number not in rejected_before
                continue
            if stop_after is not None and summary.read - summary.skipped > stop_after:
                raise KeyboardInterrupt  # a simulated Ctrl-C, for tests
            try:
                message = row_message(
                    row, mapping, source=source, file_id=path.name, default_time=modified
                )
            except RowRejectedError as error:
                outbox.reject(row, str(error))
                continue
            encoded = len(json.dumps(message))
            if outbox.full_for(encoded, batch_size):
                outbox.send(outbox.rows[-1])
            outbox.add(row, message, encoded)
            meter.show(row.end_offset, summary.read, summary.read - summary.skipped)
        if last is not None:
            outbox.send(last)
    meter.done(summary.read, summary.read - summary.skipped)
    progress_file.unlink(missing_ok=True)
    if not sum(summary.rejected.values()):
        rejects_file.unlink(missing_ok=True)
    return summary


def _temporary_key(api: Api, source: str) -> str:
    """A write key of the source that stops working by itself in a day."""
    answer = api.post(f"/v1/sources/{source}/keys", {"expires_hours": 24})
    key: str = answer["write_key"]
    return key


def _send(api: Api, key: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    # No sentAt: a row's time is history, not a device clock to correct.
    body = {"batch": batch}
    status, answer = with_retries(
        lambda: api.send("POST", "/v1/batch", body=body, headers=basic(key))
    )
    if status == 400 and isinstance(answer, dict) and "rejected" in answer:
        return answer  # every message of the batch refused: recorded per row
    if status != 200:
        message = answer.get("message") if isinstance(answer, dict) else answer
        raise CliError(f"the collector refused a batch: {status} {message}")
    result: dict[str, Any] = answer
    return result


def _resume_from(progress: Path, size: int, mtime: float, source: str) -> int:
    if not progress.is_file():
        return 0
    try:
        saved = json.loads(progress.read_text())
    except json.JSONDecodeError:
        return 0
    if saved.get("size") != size or saved.get("mtime") != mtime or saved.get("source") != source:
        return 0  # another file, or it changed: start over (ids keep repeats harmless)
    rows_done: int = saved.get("rows_done", 0)
    return rows_done


def _keep_rejects_until(rejects: Path, rows_done: int) -> list[tuple[int, str]]:
    """Keep the rejected rows up to `rows_done`; answer their numbers and reasons."""
    if not rejects.is_file():
        return []
    with rejects.open() as lines:
        kept = [entry for line in lines if (entry := json.loads(line))["row"] <= rows_done]
    rejects.write_text("".join(json.dumps(entry) + "\n" for entry in kept))
    return [(entry["row"], entry["reason"]) for entry in kept]


def _save_progress(progress: Path, size: int, mtime: float, source: str, rows_done: int) -> None:
    temporary = progress.with_suffix(".tmp")
    state = {"size": size, "mtime": mtime, "source": source, "rows_done": rows_done}
    temporary.write_text(json.dumps(state))
    os.replace(temporary, progress)


class _Meter:
    """A progress line on stderr: rows, rate, share of the file, time left. Rate and time
    left count from the first row this run sends (a resumed run skips the rest quickly)."""

    def __init__(self, total_bytes: int) -> None:
        self.total = max(total_bytes, 1)
        self.base: tuple[float, int] | None = None  # (time, offset) of the first row sent
        self.shown = 0.0
        self.live = sys.stderr.isatty()

    def show(self, offset: int, rows: int, sent: int, force: bool = False) -> None:
        now = time.monotonic()
        if self.base is None and sent:
            self.base = (now, offset)
        if not force and now - self.shown < (0.2 if self.live else 5.0):
            return
        self.shown = now
        rate, left = 0.0, 0.0
        if self.base is not None:
            elapsed = max(now - self.base[0], 1e-6)
            rate = sent / elapsed
            speed = (offset - self.base[1]) / elapsed  # bytes a second
            left = (self.total - offset) / speed if speed > 0 else 0.0
        line = (
            f"{rows:>10,} rows  {rate:>8,.0f} rows/s  {min(offset / self.total, 1.0):>4.0%}  "
            f"ETA {int(left) // 60}:{int(left) % 60:02d}"
        )
        print("\r" + line if self.live else line, end="" if self.live else "\n", file=sys.stderr)

    def done(self, rows: int, sent: int) -> None:
        self.show(self.total, rows, sent, force=True)
        if self.live:
            print(file=sys.stderr)
