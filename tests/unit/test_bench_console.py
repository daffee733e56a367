"""The console benchmark's workload and how its figures are reported (bench/console.py)."""

from __future__ import annotations

import json

from bench.console import ANONYMOUS_ID, PER_REQUEST, USER_ID, history
from bench.render import render
from bench.run import RESULTS
from cdp.intake.messages import MAX_REQUEST_BYTES


def test_one_shopper_sends_exactly_the_events_asked_for_in_time_order() -> None:
    messages = history(2_000)

    assert len(messages) == 2_000
    assert len({message["messageId"] for message in messages}) == 2_000
    times = [message["timestamp"] for message in messages]
    assert times == sorted(times)
    [signup] = [message for message in messages if message["type"] == "identify"]
    assert (signup["userId"], signup["anonymousId"]) == (USER_ID, ANONYMOUS_ID)
    assert all(message.get("userId") in (None, USER_ID) for message in messages)
    # the same shopper every run: ids are seeded (times follow the clock)
    assert [m["messageId"] for m in history(2_000)] == [m["messageId"] for m in messages]


def test_a_batch_request_of_the_workload_fits_the_collectors_limit() -> None:
    messages = history(1_000)
    for start in range(0, len(messages), PER_REQUEST):
        body = {"batch": messages[start : start + PER_REQUEST]}
        assert len(json.dumps(body).encode()) < MAX_REQUEST_BYTES


def test_the_performance_document_has_the_console_profile_and_its_target() -> None:
    results = json.loads(RESULTS.read_text())

    document = render(results)

    assert "## 10. The console's 360° profile of a person with 10,000 events" in document
    [row] = [line for line in document.splitlines() if line.startswith("| the 360° profile")]
    assert "< 1,000 ms" in row
