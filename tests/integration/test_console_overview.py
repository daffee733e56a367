"""The console's overview on moto: what arrived per minute (the functions' metrics, as
Powertools writes them and `cdp dev` or CloudWatch Logs turns them into CloudWatch metrics)
and what the profiles are like."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

from tests.integration.test_console_manage import call
from workbench.local.metrics import EmfToCloudWatch

Handler = Callable[[dict[str, Any]], dict[str, Any]]
Track = Callable[..., None]


def emf(service: str, at: datetime, **values: float) -> str:
    """One line as Powertools writes it."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(at.timestamp() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": "CDP",
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
                    }
                ],
            },
            "service": service,
            **{name: [value] for name, value in values.items()},
        }
    )


def test_the_overview_shows_what_arrived_this_minute_and_what_became_of_it(
    track: Track, console: Handler
) -> None:
    bridge = EmfToCloudWatch(boto3.client("cloudwatch"), io.StringIO())
    now = datetime.now(UTC)
    bridge.write(emf("collector", now, EventsAccepted=7, EventsQuarantined=2) + "\n")
    bridge.write(emf("collector", now, EventsAccepted=3, EventsNotStored=1) + "\nplain text\n")
    track(
        {"type": "identify", "userId": "42", "context": {
            "consent": {"categoryPreferences": {"marketing": True}}}},
        {"type": "page", "anonymousId": "visitor-1"},
    )  # fmt: skip

    status, overview = call(console, "GET", "/console/api/overview", "viewer")

    assert status == 200
    minute = overview["events"]["per_minute"][-1]
    assert (minute["stored"], minute["refused"], minute["not_stored"]) == (10, 2, 1)
    assert len(overview["events"]["per_minute"]) == 60
    assert overview["events"]["last_day"]["stored"] == 10
    profiles = overview["profiles"]
    assert (profiles["total"], profiles["complete"], profiles["identified"]) == (2, True, 0.5)
    assert profiles["consent"]["marketing"] == {"granted": 0.5, "denied": 0.0, "unknown": 0.5}
    # what was not a metric went on to standard output
    assert bridge.passthrough.getvalue() == "plain text\n"  # type: ignore[attr-defined]


def test_the_overview_needs_a_console_user(console: Handler) -> None:
    assert call(console, "GET", "/console/api/overview", None)[0] == 401


def test_a_request_refused_whole_still_counts_its_refused_messages(
    collector: Handler, capsys: Any
) -> None:
    from tests.factories import basic_auth, http_event
    from tests.integration.conftest import WRITE_KEY

    batch = [{"type": "track", "event": "No one"}, {"type": "page"}]  # neither has an identifier
    answer = collector(
        http_event(path="/v1/batch", body={"batch": batch}, headers=basic_auth(WRITE_KEY))
    )

    assert answer["statusCode"] == 400
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert sum(sum(line.get("EventsQuarantined", [0])) for line in lines) == 2


def test_after_cdp_devs_clock_moves_the_overview_counts_by_that_clock(console: Handler) -> None:
    from datetime import timedelta

    from cdp.runtime import clock

    bridge = EmfToCloudWatch(boto3.client("cloudwatch"), io.StringIO())
    clock.advance(timedelta(days=3))  # (the test's clock is put back after each test)
    bridge.write(emf("collector", datetime.now(UTC), EventsAccepted=5) + "\n")

    status, overview = call(console, "GET", "/console/api/overview", "viewer")

    assert status == 200
    assert overview["events"]["per_minute"][-1]["stored"] == 5
    assert overview["events"]["last_hour"]["stored"] == 5
