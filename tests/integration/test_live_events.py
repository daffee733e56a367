"""Live events: while someone watches a source, what it sends shows up with what became of
each message, masked; when nobody watches, nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import answer_json, basic_auth, http_event
from tests.integration.test_console_manage import call

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def shop(admin_api: Handler) -> str:
    """A website source made in the console; its write key."""
    status, made = call(
        admin_api, "POST", "/console/api/sources", "admin", {"name": "shop", "kind": "website"}
    )
    assert status == 201
    key: str = made["write_key"]
    return key


def send(collector: Handler, key: str, *messages: dict[str, Any]) -> dict[str, Any]:
    event = http_event(path="/v1/batch", body={"batch": list(messages)}, headers=basic_auth(key))
    return answer_json(collector(event))


def live(admin_api: Handler, cursor: str | None = None) -> dict[str, Any]:
    query = {"cursor": cursor} if cursor else {}
    status, answer = call(admin_api, "GET", "/console/api/sources/shop/live", "viewer", **query)
    assert status == 200
    return answer


def test_a_watched_source_shows_each_message_and_what_became_of_it(
    shop: str, admin_api: Handler, collector: Handler
) -> None:
    status, watched = call(
        admin_api, "POST", "/console/api/sources/shop/watch", "viewer", {"minutes": 5}
    )
    assert status == 200
    assert watched["source"]["watched_until"] is not None

    send(
        collector,
        shop,
        {"type": "track", "userId": "42", "event": "Order Completed",
         "properties": {"email": "ada@example.com"}, "messageId": "m-1"},
        {"type": "track", "event": "No one"},  # neither userId nor anonymousId
        {"type": "identify", "userId": "42", "traits": {"email": "ada@example.com"},
         "messageId": "m-3"},
    )  # fmt: skip

    answer = live(admin_api)
    outcomes = [(e["outcome"], e.get("type"), e.get("event")) for e in answer["entries"]]
    assert outcomes == [
        ("stored", "track", "Order Completed"),
        ("refused", "track", "No one"),
        ("stored", "identify", None),
    ]
    assert "anonymousId" in answer["entries"][1]["reason"]
    # masked: the live view shows the shape of what arrived, never the person
    assert "ada@example.com" not in str(answer)
    assert answer["entries"][0]["message"]["userId"] != "42"
    # and only what is new is read next time
    assert live(admin_api, answer["cursor"])["entries"] == []


def test_watching_for_no_minutes_stops_it(
    shop: str, admin_api: Handler, collector: Handler
) -> None:
    call(admin_api, "POST", "/console/api/sources/shop/watch", "viewer", {"minutes": 5})
    status, stopped = call(
        admin_api, "POST", "/console/api/sources/shop/watch", "viewer", {"minutes": 0}
    )

    send(collector, shop, {"type": "track", "userId": "42", "event": "Order Completed"})

    assert status == 200
    assert stopped["source"]["watched_until"] is None
    assert live(admin_api)["entries"] == []


def test_nothing_is_written_when_nobody_watches(
    shop: str, admin_api: Handler, collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    send(collector, shop, {"type": "track", "userId": "42", "event": "Order Completed"})

    assert live(admin_api)["entries"] == []
    assert dynamodb.scan(TableName=table_names["LIVE_TABLE"])["Count"] == 0


def test_messages_kept_out_for_lack_of_consent_say_so(
    shop: str, admin_api: Handler, monkeypatch: pytest.MonkeyPatch, collector: Handler
) -> None:
    monkeypatch.setenv("CONSENT_REQUIRED", "true")
    call(admin_api, "POST", "/console/api/sources/shop/watch", "viewer", {"minutes": 5})

    send(
        collector,
        shop,
        {"type": "track", "userId": "42", "event": "Viewed", "properties": {"path": "/a"}},
        {"type": "track", "userId": "42", "event": "Consent Given", "properties": {"path": "/b"},
         "context": {"consent": {"categoryPreferences": {"analytics": False, "marketing": True}}}},
    )  # fmt: skip

    entries = live(admin_api)["entries"]
    assert [(e["outcome"], e["reason"]) for e in entries] == [
        ("not_stored", "no analytics consent"),
        ("consent_only", "no analytics consent: only the consent decision is kept"),
    ]
    # and the live view keeps no more of them than the platform does: nothing of the first,
    # the consent decision alone of the second
    not_stored, consent_only = entries
    assert "message" not in not_stored
    assert "event" not in not_stored
    assert "properties" not in consent_only["message"]
    assert consent_only["message"]["context"] == {
        "consent": {"categoryPreferences": {"analytics": False, "marketing": True}}
    }


def test_watching_is_for_viewers_too_but_not_without_a_token(admin_api: Handler) -> None:
    assert call(admin_api, "GET", "/console/api/sources/none/live", None)[0] == 401
    status, answer = call(admin_api, "POST", "/console/api/sources/none/watch", "viewer", {})
    assert status == 404, answer


def test_only_keys_still_working_are_switched(
    shop: str, admin_api: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    from cdp.access.keys import hash_key

    status, rotated = call(
        admin_api, "POST", "/console/api/sources/shop/rotate", "admin", {"overlap_hours": 0}
    )
    assert status == 200
    call(admin_api, "POST", "/console/api/sources/shop/watch", "viewer", {"minutes": 5})

    def switched(key: str) -> bool:
        item = dynamodb.get_item(
            TableName=table_names["KEYS_TABLE"], Key={"key_hash": {"S": hash_key(key)}}
        )["Item"]
        return "watched_until" in item

    assert switched(rotated["write_key"])
    assert not switched(shop)  # rotated out at once: it sends nothing to watch
