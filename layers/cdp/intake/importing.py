"""Bulk import: rows of a CSV or JSON Lines file (one person, or one event, per row) turned
into messages, the same for `cdp import` on a laptop and the import bucket in AWS.

A mapping says which columns hold identities, traits, the event name, its properties and
time. Imported traits carry the *imported* provenance. Every row gets a message id derived
from the source, the file's name and the row's number and content, and a time that does not
change between runs (the row's own, or the file's modification time), so that importing the
same file again, or resuming an interrupted import, never stores a row twice.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from cdp.profiles.identity import ANONYMOUS_ID, EMAIL, USER_ID, external_type, normalise_email
from cdp.runtime.clock import iso
from cdp.runtime.errors import InvalidRequestError
from cdp.runtime.jsontext import parse_json_text
from cdp.runtime.models import Model


class ImportMapping(Model):
    """Columns -> what they mean. Identity types: `user_id`, `anonymous_id`, `email`, or any
    external id type (`crm_id`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["people", "events"] = "people"
    identities: dict[str, str] = Field(default_factory=dict, description="identity type -> column")
    traits: dict[str, str] = Field(default_factory=dict, description="trait -> column")
    event: str | None = Field(default=None, description="column with the event name")
    event_name: str | None = Field(default=None, description="one event name for every row")
    properties: dict[str, str] = Field(default_factory=dict, description="property -> column")
    timestamp: str | None = Field(default=None, description="column with the time of the row")
    consent: dict[str, str] = Field(
        default_factory=dict, description="consent purpose -> column (yes/no, true/false, 1/0)"
    )

    @model_validator(mode="after")
    def _complete(self) -> ImportMapping:
        if not self.identities:
            raise ValueError("map at least one identity column, e.g. user_id=customer_id")
        for kind in self.identities:
            if kind not in (USER_ID, ANONYMOUS_ID, EMAIL) and external_type(kind) != kind:
                raise ValueError(f"{kind!r} is not an identity type")
        if self.kind == "events" and not (self.event or self.event_name):
            raise ValueError("an events import needs the event column or one event_name")
        return self

    @classmethod
    def from_flags(
        cls,
        *,
        kind: str,
        ids: list[str],
        traits: list[str],
        properties: list[str],
        event: str | None,
        event_name: str | None,
        timestamp: str | None,
        consent: Sequence[str] = (),
    ) -> ImportMapping:
        """From `type=column` flags; a bare `name` means a column of the same name."""

        def pairs(values: Sequence[str]) -> dict[str, str]:
            found = {}
            for value in values:
                key, _, column = value.partition("=")
                found[key] = column or key
            return found

        return cls.model_validate(
            {
                "kind": kind,
                "identities": pairs(ids),
                "traits": pairs(traits),
                "properties": pairs(properties),
                "event": event,
                "event_name": event_name,
                "timestamp": timestamp,
                "consent": pairs(consent),
            }
        )


class RowRejectedError(ValueError):
    """A row that cannot become a message; the reason goes to the rejected-rows file."""


@dataclass(frozen=True)
class Row:
    number: int  # 1-based, data rows only
    values: dict[str, Any]
    end_offset: int  # bytes of the file read once this row was


def rows(stream: Iterable[bytes], file_format: Literal["csv", "jsonl"]) -> Iterator[Row]:
    """The rows of a file, streamed (a file larger than memory is fine)."""
    counted = _Counting(stream)
    if file_format == "jsonl":
        number = 0
        for line in counted:
            if not line.strip():
                continue
            number += 1
            try:  # strict, as the collector reads a body: no NaN, no lone surrogates
                values = parse_json_text(line, subject="the line")
            except InvalidRequestError as error:
                values = {"__error__": error.message, "__line__": line.strip()[:2000]}
            if not isinstance(values, dict):
                values = {"__error__": "not a JSON object", "__line__": line.strip()[:2000]}
            yield Row(number, values, counted.offset)
        return
    reader = csv.DictReader(counted)
    for number, values in enumerate(reader, start=1):
        yield Row(number, values, counted.offset)


class _Counting:
    """Text lines of a byte stream, counting the bytes consumed (for progress and ETA)."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self.stream = iter(stream)
        self.offset = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.stream:
            self.offset += len(line)
            yield line.decode("utf-8-sig" if self.offset == len(line) else "utf-8", "replace")


def row_message(
    row: Row, mapping: ImportMapping, *, source: str, file_id: str, default_time: datetime
) -> dict[str, Any]:
    """The message a row becomes, or `RowRejectedError` with the reason."""
    values = row.values
    if "__error__" in values:
        raise RowRejectedError(values["__error__"])
    message, email = _identified(values, mapping)
    moment = _time(values, mapping, default_time)
    message["timestamp"] = iso(moment)
    decisions = _consent(values, mapping)
    if decisions:
        message["context"]["consent"] = {"categoryPreferences": decisions}
    if mapping.kind == "people":
        message["type"] = "identify"
        traits = {
            trait: _value(values.get(column))
            for trait, column in mapping.traits.items()
            if column in values
        }
        if email:
            traits.setdefault("email", email)
        message["traits"] = traits
    else:
        name = mapping.event_name or _text(values.get(mapping.event or ""))
        if not name:
            raise RowRejectedError(f"{mapping.event}: no event name")
        message["type"] = "track"
        message["event"] = name
        message["properties"] = {
            key: _value(values.get(column))
            for key, column in mapping.properties.items()
            if column in values
        }
    content = json.dumps(values, sort_keys=True, default=str)
    basis = f"{source}|{file_id}|{row.number}|{content}"
    message["messageId"] = "import-" + hashlib.sha256(basis.encode()).hexdigest()[:32]
    return message


def _identified(
    values: dict[str, Any], mapping: ImportMapping
) -> tuple[dict[str, Any], str | None]:
    """A message carrying the row's identities, and its e-mail address if any."""
    message: dict[str, Any] = {"context": {"cdp": {"provenance": "imported"}}}
    external: list[dict[str, str]] = []
    email: str | None = None
    for kind, column in mapping.identities.items():
        value = _text(values.get(column))
        if value is None:
            continue
        if kind == USER_ID:
            message["userId"] = value
        elif kind == ANONYMOUS_ID:
            message["anonymousId"] = value
        elif kind == EMAIL:
            email = normalise_email(value)
            if email is None:
                raise RowRejectedError(f"{column}: {value!r} is not an e-mail address")
        else:
            external.append({"id": value, "type": kind, "collection": "users"})
    if not ({"userId", "anonymousId"} & set(message) or email):
        raise RowRejectedError("no user id, anonymous id or e-mail address in this row")
    if external:
        message["context"]["externalIds"] = external
    if email:
        message["context"]["traits"] = {"email": email}
    return message, email


def _time(values: dict[str, Any], mapping: ImportMapping, default: datetime) -> datetime:
    if not mapping.timestamp:
        return default
    raw = _text(values.get(mapping.timestamp))
    if raw is None:
        return default
    try:
        if raw.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(raw), tz=UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise RowRejectedError(f"{mapping.timestamp}: {raw!r} is not a time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_YES = {"true", "yes", "y", "1", "granted", "opt-in", "optin"}
_NO = {"false", "no", "n", "0", "denied", "opt-out", "optout"}


def _consent(values: dict[str, Any], mapping: ImportMapping) -> dict[str, bool]:
    """The consent decisions a row records (an empty cell records none)."""
    decisions: dict[str, bool] = {}
    for purpose, column in mapping.consent.items():
        raw = _text(values.get(column))
        if raw is None:
            continue
        if raw.lower() in _YES:
            decisions[purpose] = True
        elif raw.lower() in _NO:
            decisions[purpose] = False
        else:
            raise RowRejectedError(f"{column}: {raw!r} is not a yes or no")
    return decisions


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _value(value: Any) -> Any:
    """CSV gives text: numbers (written as JSON writes them) and booleans become what they are;
    empty means no value. A whole number keeps every digit; what JSON would not read as a
    number stays text: a leading zero (a phone number, a postcode), `NaN`, `1_000`."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text == "":
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return _number(text) if _JSON_NUMBER.fullmatch(text) else text


def _number(text: str) -> Any:
    if _WHOLE_NUMBER.fullmatch(text):
        return int(text)
    number = float(text)
    if not math.isfinite(number):  # 1e999
        return text
    return int(number) if number.is_integer() and "." not in text else number


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WHOLE_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,4000})")


def rejected_line(row: Row, reason: str) -> str:
    """One line of the rejected-rows file (JSON Lines: the row and the reason)."""
    values = {k: v for k, v in row.values.items() if not k.startswith("__")} or row.values
    return json.dumps({"row": row.number, "reason": reason, "values": values}, default=str) + "\n"
