"""`cdp segments members`: every member of a segment, page after page (following the cursors),
as CSV (the API's own `members.csv`, its header row once) or JSON Lines, to a file or stdout,
with progress on stderr while a long list is read."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from workbench.cli.client import Api, CliError, with_retries
from workbench.cli.output import say

PROGRESS_EVERY = 10  # pages, when stderr is not a terminal (a log): one line each


def export_members(
    api: Api,
    segment: str,
    *,
    identifiers: str | None,
    file: Path | None,
    as_json: bool,
    page_size: int,
    cursor: str | None = None,
) -> int:
    """Write every member of `segment`; how many were written. A request that keeps failing
    (after retries) stops the export with the cursor to go on from."""
    if not 1 <= page_size <= 1000:
        raise CliError("--limit: from 1 to 1000 members per request")
    path = f"/v1/segments/{quote(segment, safe='')}/members"
    query = {"limit": page_size, "identifiers": identifiers}
    out: IO[str] = file.open("w", encoding="utf-8", newline="") if file else sys.stdout
    written = pages = 0
    masked = False
    try:
        while True:
            if as_json:
                lines, after, masked = _json_page(api, path, {**query, "cursor": cursor})
                out.write("".join(lines))
                count = len(lines)
            else:
                text, headers = api.text(path + ".csv", **query, cursor=cursor)
                after, masked = headers.get("x-next-cursor"), headers.get("x-masked") == "true"
                rows = text.partition("\r\n")[2]  # after the header row
                out.write(text if pages == 0 else rows)
                count = sum(1 for _ in csv.reader(io.StringIO(rows)))
            written, pages, cursor = written + count, pages + 1, after
            if cursor is None:
                break
            _progress(written, pages)
    except CliError as error:
        if written and cursor:
            raise CliError(f"{error}; {written} written, go on with --cursor {cursor}") from None
        raise
    finally:
        out.flush()
        if file:
            out.close()
    if pages > 1 and sys.stderr.isatty():
        sys.stderr.write("\n")
    say(f"{written} members of {segment} written to {file or 'stdout'}")
    if masked:
        say("identifiers are masked: the role signed in may not see people's data")
    return written


def _json_page(api: Api, path: str, query: dict[str, Any]) -> tuple[list[str], str | None, bool]:
    status, page = with_retries(lambda: api.send("GET", path, query=query))
    if status >= 400:
        message = page.get("message") if isinstance(page, dict) else page
        raise CliError(f"GET {path}: {status} {message}")
    lines = [json.dumps(member, ensure_ascii=False) + "\n" for member in page["members"]]
    return lines, page["cursor"], bool(page.get("masked"))


def _progress(written: int, pages: int) -> None:
    """In place on a terminal; a line every `PROGRESS_EVERY` pages in a log."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{written} members so far…")
        sys.stderr.flush()
    elif pages % PROGRESS_EVERY == 0:
        say(f"{written} members so far…")
