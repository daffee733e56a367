"""Time as text: UTC, millisecond precision, `Z` suffix, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def from_epoch(seconds: float) -> str:
    return iso(datetime.fromtimestamp(seconds, tz=UTC))


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc_now() -> datetime:
    return datetime.now(UTC)
