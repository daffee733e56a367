"""Time as text: UTC, millisecond precision, `Z` suffix, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Moved only by `cdp dev` (its /_dev/clock route), to see time-based segments change without
# waiting. Always zero in AWS.
_offset = timedelta(0)


def iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def from_epoch(seconds: float) -> str:
    return iso(datetime.fromtimestamp(seconds, tz=UTC))


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc_now() -> datetime:
    return datetime.now(UTC) + _offset


def advance(delta: timedelta) -> datetime:
    """Move this process's clock forward (local runtime and tests only)."""
    global _offset  # noqa: PLW0603 (one process-wide clock, by design)
    _offset += delta
    return utc_now()
