"""A segment's member list as other tools use it: each member with the values of the identity
types asked for (`email,user_id,phone`), as JSON or as CSV, a page at a time.

A page holds at most the members asked for, and fewer when their rows would make Lambda's
answer pass `MAX_ANSWER_BYTES` (Lambda answers at most 6 MB; the body is escaped once more
inside its answer, which is what is measured). A page cut short has a cursor like any other; a
member is never split. Only identifiers make rows long: a page of 1,000 members with an e-mail
address and a user id each is about 150 KB.

In CSV each identity type is one column holding the member's most recently linked value of it
(what a tool imports: one address a row); the JSON gives every value. A cell a spreadsheet
would run as a formula (`=...`, `@...`, `+`/`-` followed by more than a number) starts with
`'`: identifier values come from outside (a form, an SDK).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cdp.console.mask import mask_identifier
from cdp.profiles.identity import ANONYMOUS_ID, PROFILE_ID, USER_ID, external_type, split_identity
from cdp.runtime.errors import InvalidRequestError

MAX_TYPES = 10
MAX_ANSWER_BYTES = 5_000_000  # of Lambda's 6 MB, the rest for headers and the envelope
FIXED_COLUMNS = ("profile_id", "entered_at")
TYPES_HELP = (
    "user_id, anonymous_id, email, or an external id type (a lower-case letter, then up to 63 "
    "lower-case letters, digits or _, such as phone or crm_id)"
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-][\d\s().-]*$")  # a phone number or a signed number: no formula

Row = dict[str, Any]


def identifier_types(text: str | None) -> tuple[str, ...]:
    """The identity types asked for (`email,user_id`), in their order, once each; none when
    nothing was asked. `InvalidRequestError` names the first that is not one."""
    if text is None:
        return ()
    asked = [part.strip() for part in text.split(",") if part.strip()]
    if not asked:
        raise InvalidRequestError(f"identifiers: name one or more identity types: {TYPES_HELP}")
    types = tuple(dict.fromkeys(asked))
    for kind in types:
        if kind == PROFILE_ID:
            raise InvalidRequestError("identifiers: every member has its profile_id already")
        if kind not in (USER_ID, ANONYMOUS_ID) and external_type(kind) != kind:
            shown = kind if len(kind) <= 70 else kind[:70] + "..."
            raise InvalidRequestError(
                f"identifiers: {shown!r} is not an identity type: {TYPES_HELP}"
            )
    if len(types) > MAX_TYPES:
        raise InvalidRequestError(f"identifiers: at most {MAX_TYPES} identity types at once")
    return types


def identifiers_of(identities: Mapping[str, str], types: Sequence[str]) -> dict[str, list[str]]:
    """Each type's values among a profile's identities (`type:value` -> linked at), most
    recently linked first; an empty list for a type it has none of."""
    found: dict[str, list[str]] = {kind: [] for kind in types}
    for key, _ in sorted(identities.items(), key=lambda item: (item[1], item[0]), reverse=True):
        kind, value = split_identity(key)
        if kind in found:
            found[kind].append(value)
    return found


def member_rows(
    page: Iterable[Mapping[str, str]],
    types: Sequence[str],
    identities: Mapping[str, Mapping[str, str]],
    *,
    masked: bool,
) -> list[Row]:
    """The members of a page (profile id, entered at) with their identifiers when types were
    asked for (`identities`: each profile's; a profile gone since has none), masked as the
    console masks them for someone who may not see who people are."""
    rows: list[Row] = []
    for member in page:
        row: Row = {"profile_id": member["profile_id"], "entered_at": member["entered_at"]}
        if types:
            found = identifiers_of(identities.get(member["profile_id"], {}), types)
            if masked:
                found = {
                    kind: [mask_identifier(v) for v in values] for kind, values in found.items()
                }
            row["identifiers"] = found
        rows.append(row)
    return rows


def json_page(rows: list[Row], cursor: str | None) -> tuple[list[Row], str | None]:
    """The rows that fit one answer as JSON, and the cursor after the last of them."""
    return _fitting(rows, cursor, lambda row: _escaped(json.dumps(row)) + 1)


def csv_page(rows: list[Row], types: Sequence[str], cursor: str | None) -> tuple[str, str | None]:
    """The rows that fit one answer as CSV (RFC 4180: a header row, CRLF line ends), and the
    cursor after the last of them."""
    lines = [_csv_line([*FIXED_COLUMNS, *types])]
    texts = {id(row): _csv_line(_cells(row, types)) for row in rows}
    kept, after = _fitting(rows, cursor, lambda row: _escaped(texts[id(row)]))
    lines += [texts[id(row)] for row in kept]
    return "".join(lines), after


def _cells(row: Row, types: Sequence[str]) -> list[str]:
    identifiers: Mapping[str, list[str]] = row.get("identifiers") or {}
    newest = [values[0] if values else "" for values in (identifiers.get(k, []) for k in types)]
    return [row["profile_id"], row["entered_at"], *(_inert(value) for value in newest)]


def _inert(cell: str) -> str:
    """A cell no spreadsheet runs as a formula (OWASP's CSV injection advice): one that would
    starts with `'`; phone numbers (`+31 6 1234 5678`) and plain numbers stay as they are."""
    if cell.startswith(_FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def _csv_line(cells: Sequence[str]) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(cells)
    return text.getvalue()


def _escaped(text: str) -> int:
    """How long a text is inside Lambda's answer (a JSON string, escaped, ASCII)."""
    return len(json.dumps(text)) - 2


def _fitting(
    rows: list[Row], cursor: str | None, size: Callable[[Row], int]
) -> tuple[list[Row], str | None]:
    """The longest start of `rows` within `MAX_ANSWER_BYTES` (never none of them), and the cursor
    to go on from: after its last row when it is cut short, else `cursor`."""
    total = 0
    for index, row in enumerate(rows):
        total += size(row)
        if total > MAX_ANSWER_BYTES and index > 0:
            return rows[:index], rows[index - 1]["profile_id"]
    return rows, cursor
