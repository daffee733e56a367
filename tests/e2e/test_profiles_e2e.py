"""Profiles in `cdp dev`: what a person does on two devices becomes one profile."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests
from segment.analytics.client import Client

from tests.e2e.conftest import SECRET_KEY, WRITE_KEY, DevStack

pytestmark = pytest.mark.e2e


def lookup(stack: DevStack, identity: str) -> requests.Response:
    return requests.get(
        f"{stack.url}/v1/profiles/{requests.utils.quote(identity, safe='')}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    )


def wait_for(stack: DevStack, identity: str, done: Any, timeout: float = 15.0) -> dict[str, Any]:
    """Poll the Profile API until `done(profile)` holds (the stream is asynchronous)."""
    deadline = time.monotonic() + timeout
    profile: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = lookup(stack, identity)
        if answer.status_code == 200:
            profile = answer.json()
            if done(profile):
                return profile
        time.sleep(0.2)
    raise AssertionError(f"the profile of {identity} did not get there in {timeout} s: {profile}")


def test_two_devices_and_a_sign_up_become_one_profile(dev_stack: DevStack) -> None:
    run = uuid.uuid4().hex[:8]
    laptop, phone, user, email = (
        f"laptop-{run}",
        f"phone-{run}",
        f"user-{run}",
        f"ada-{run}@example.com",
    )
    client = Client(write_key=WRITE_KEY, host=dev_stack.url, max_retries=2)

    # anonymous browsing on the laptop, then sign-up
    for page in ("Home", "Pricing", "Sign up"):
        client.page(anonymous_id=laptop, name=page)
    client.identify(user, {"email": email.upper(), "name": "Ada"}, anonymous_id=laptop)
    client.flush()
    wait_for(dev_stack, f"user_id:{user}", lambda p: p["event_count"] == 4)

    # later, the phone: anonymous first, then signing in as the same user
    client.page(anonymous_id=phone, name="Home")
    client.flush()
    wait_for(dev_stack, f"anonymous_id:{phone}", lambda p: p["event_count"] == 1)
    client.identify(user, {"plan": "pro"}, anonymous_id=phone)
    client.track(user, "Order Completed", {"revenue": 42.5, "category": "shoes"})
    client.flush()
    client.shutdown()

    profile = wait_for(dev_stack, f"user_id:{user}", lambda p: p["event_count"] == 7)

    # one profile, whatever identifier it is looked up by
    for identity in (f"anonymous_id:{laptop}", f"anonymous_id:{phone}", f"email:{email}"):
        assert lookup(dev_stack, identity).json()["profile_id"] == profile["profile_id"]
    assert {(i["type"], i["value"]) for i in profile["identities"]} == {
        ("user_id", user),
        ("anonymous_id", laptop),
        ("anonymous_id", phone),
        ("email", email),
    }
    assert profile["computed"]["page_views"] == 4
    assert profile["computed"]["orders"] == 1
    assert profile["computed"]["revenue"] == 42.5
    assert profile["computed"]["favorite_category"] is None  # it counts Product Viewed
    assert profile["traits"] == {"email": email.upper(), "name": "Ada", "plan": "pro"}
    assert profile["trait_sources"]["plan"]["kind"] == "observed"
    assert profile["trait_sources"]["plan"]["source"] == "dev"
    assert profile["first_seen"] <= profile["last_seen"]

    # and the timeline holds all seven events, newest first
    timeline = requests.get(
        f"{dev_stack.url}/v1/profiles/user_id:{user}/events?limit=5",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    ).json()
    assert len(timeline["events"]) == 5
    rest = requests.get(
        f"{dev_stack.url}/v1/profiles/user_id:{user}/events",
        params={"limit": 5, "cursor": timeline["cursor"]},
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    ).json()
    assert rest["cursor"] is None
    events = timeline["events"] + rest["events"]
    assert len({e["messageId"] for e in events}) == 7
    times = [e["originalTimestamp"] for e in events]
    assert times == sorted(times, reverse=True)


def test_the_profile_api_refuses_the_write_key(dev_stack: DevStack) -> None:
    answer = requests.get(
        f"{dev_stack.url}/v1/profiles/user_id:anyone",
        headers={"Authorization": f"Bearer {WRITE_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 401
    assert lookup(dev_stack, "user_id:nobody-at-all").status_code == 404
