"""The consent history keeps one entry per purpose, state, version and day: trackers repeat a
standing choice on every message, and a profile must not grow with each page view."""

from __future__ import annotations

import itertools
from typing import Any

from cdp.profiles.consent import record


def apply(messages: list[tuple[str, bool]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    consent: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    for at, granted in messages:
        record(consent, history, {"marketing": granted}, at=at, message_id=f"m-{at}",
               source="web", version="v1")  # fmt: skip
    return consent, history


DAY_ONE = [(f"2026-11-23T09:{minute:02d}:00.000Z", True) for minute in range(50)]


def test_a_choice_repeated_all_day_is_one_entry_the_first() -> None:
    consent, history = apply(DAY_ONE)

    assert [(d["at"], d["state"]) for d in history] == [("2026-11-23T09:00:00.000Z", "granted")]
    assert consent["marketing"]["at"] == "2026-11-23T09:49:00.000Z"  # the newest decides


def test_a_change_and_a_new_day_are_entries_of_their_own() -> None:
    _, history = apply([*DAY_ONE, ("2026-11-23T10:00:00.000Z", False),
                        ("2026-11-24T08:00:00.000Z", False)])  # fmt: skip

    assert [(d["at"][:13], d["state"]) for d in history] == [
        ("2026-11-23T09", "granted"),
        ("2026-11-23T10", "denied"),
        ("2026-11-24T08", "denied"),
    ]


def test_the_arrival_order_does_not_matter() -> None:
    messages = [*DAY_ONE[:5], ("2026-11-23T10:00:00.000Z", False)]
    outcomes = {repr(apply(list(order))) for order in itertools.permutations(messages)}

    assert len(outcomes) == 1
