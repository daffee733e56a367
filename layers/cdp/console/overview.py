"""The console's overview: how much arrives and what becomes of it (the functions' own
metrics, per minute), and what the profiles are like (a sample of them, like a segment's
preview: every profile when there are few)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from cdp.profiles.identity import EMAIL, USER_ID
from cdp.profiles.profile import Profile
from cdp.runtime.clock import iso

# What the overview charts, by the metric the function writes: (metric, function, shown as)
ARRIVALS = (
    ("EventsAccepted", "collector", "stored"),
    ("EventsNotStored", "collector", "not_stored"),  # no consent, or an erased person
    ("EventsQuarantined", "collector", "refused"),  # kept with their reason
)
# Records a function could not take, after Lambda's retries in its failure queue: events not
# applied to a profile, and profile changes not shared (put on the bus for destinations).
FAILURES = (
    ("RecordsFailed", "profile_builder", "failed"),
    ("RecordsFailed", "publisher", "not_shared"),
)
METRICS = [(metric, service) for metric, service, _ in (*ARRIVALS, *FAILURES)]
NAMES = [name for _, _, name in (*ARRIVALS, *FAILURES)]
MINUTES = 60


class Measured(Protocol):
    """One metric's sums per period (`cdp.storage.metrics.Series`)."""

    @property
    def points(self) -> list[tuple[str, float]]: ...  # (period's start, sum), oldest first

    @property
    def total(self) -> float: ...


def arrival_figures(minutes: Sequence[Measured], hours: Sequence[Measured]) -> dict[str, Any]:
    """The overview's event figures from the sums of `METRICS`, in that order: per minute
    (the chart), and the totals of the last hour and of the last day."""
    per_minute = [
        {
            "at": at,
            **{name: series.points[n][1] for name, series in zip(NAMES, minutes, strict=True)},
        }
        for n, (at, _) in enumerate(minutes[0].points)
    ]
    return {
        "per_minute": per_minute,
        "last_hour": {name: series.total for name, series in zip(NAMES, minutes, strict=True)},
        "last_day": {name: series.total for name, series in zip(NAMES, hours, strict=True)},
    }


SAMPLE = 1000  # profiles read for the figures: enough for shares within a few points


def profile_figures(
    profiles: Sequence[Profile],
    *,
    total: int,
    complete: bool,
    purposes: Iterable[str],
    now_iso: str,
) -> dict[str, Any]:
    """How many profiles there are, which share is identified (a user id or an e-mail
    address, not only anonymous ids), the share of each consent decision per purpose and the
    share that has declared each trait (answered the question that asks it, and the answer
    has not expired), over `profiles`, a sample of `total` (`complete`: all of them)."""
    sampled = len(profiles)
    declared: dict[str, int] = {}
    for profile in profiles:
        for name, by_kind in profile.traits.items():
            value = by_kind.get("declared")
            if value is not None and value.value is not None and value.live(now_iso):
                declared[name] = declared.get(name, 0) + 1
    identified = sum(
        any(key.startswith((f"{USER_ID}:", f"{EMAIL}:")) for key in profile.identities)
        for profile in profiles
    )
    consent: dict[str, dict[str, float]] = {}
    for purpose in purposes:
        counts = {"granted": 0, "denied": 0, "unknown": 0}
        for profile in profiles:
            decision = profile.consent.get(purpose)
            state = decision.get("state") if isinstance(decision, dict) else None
            counts[state if state in ("granted", "denied") else "unknown"] += 1
        consent[purpose] = {state: _share(count, sampled) for state, count in counts.items()}
    return {
        "total": total,
        "complete": complete,
        "sampled": sampled,
        "identified": _share(identified, sampled),
        "consent": consent,
        "consent_by_week": consent_by_week(profiles, purposes, now_iso=now_iso),
        "declared": {name: _share(count, sampled) for name, count in sorted(declared.items())},
    }


WEEKS = 12


def consent_by_week(
    profiles: Sequence[Profile], purposes: Iterable[str], *, now_iso: str, weeks: int = WEEKS
) -> list[dict[str, Any]]:
    """Consent per purpose at the end of each of the last `weeks` weeks (the last ends now),
    oldest first: among the profiles seen by then, the share whose standing decision was
    granted, denied or none yet. Read from each profile's consent history, so it costs no
    write: a profile keeps its last 100 decisions (`consent.MAX_HISTORY`), and one that made
    more counts as undecided before the oldest it kept."""
    now = datetime.fromisoformat(now_iso.replace("Z", "+00:00"))
    ends = [iso(now - timedelta(weeks=weeks - 1 - n)) for n in range(weeks)]
    wanted = list(purposes)
    found = []
    for end in ends:
        present = [p for p in profiles if (p.first_seen or p.created_at) <= end]
        shares: dict[str, dict[str, float]] = {}
        for purpose in wanted:
            counts = {"granted": 0, "denied": 0, "unknown": 0}
            for profile in present:
                counts[_standing(profile, purpose, end)] += 1
            shares[purpose] = {state: _share(n, len(present)) for state, n in counts.items()}
        found.append({"until": end, "profiles": len(present), "consent": shares})
    return found


def _standing(profile: Profile, purpose: str, at: str) -> str:
    """The profile's decision for `purpose` as it stood at `at`: its newest one made by then.
    (The history is in time order; `at` strings compare as times, being ISO 8601 in UTC.)"""
    standing = "unknown"
    for decision in profile.consent_history:
        if decision["at"] > at:
            break
        if decision["purpose"] == purpose:
            standing = decision["state"]
    return standing


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
