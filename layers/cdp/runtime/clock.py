"""Time as text: UTC, millisecond precision, `Z` suffix, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Moved only by `cdp dev` (its /_dev/clock route), to see time-based segments change without
# waiting. Always zero in AWS.
_offset = timedelta(0)


def iso(moment: datetime) -> str:
    # `2026-11-27T10:00:00.123+00:00` less its offset: isoformat is the quickest way there
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def from_epoch(seconds: float) -> str:
    return iso(datetime.fromtimestamp(seconds, tz=UTC))


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc_now() -> datetime:
    return datetime.now(UTC) + _offset


def offset() -> timedelta:
    """How far this process's clock has been moved (0 outside the local runtime and tests)."""
    return _offset


def advance(delta: timedelta) -> datetime:
    """Move this process's clock forward (local runtime and tests only)."""
    global _offset  # noqa: PLW0603 (one process-wide clock, by design)
    _offset += delta
    return utc_now()
