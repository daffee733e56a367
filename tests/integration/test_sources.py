"""Sources and their write keys through the admin API, and the collector honouring them:
events stamped with their source, rotation with an overlap, temporary keys, disabling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from cdp.runtime import clock
from functions.collector import handler as collector_module
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Moves the platform's clock forward, as if time had passed (reset after the test)."""
    monkeypatch.setattr(clock, "_offset", timedelta(0))

    def move(delta: timedelta) -> None:
        clock.advance(delta)
        collector_module._app.cache_clear()  # a new container: nothing cached about keys

    return move


def admin(api: Handler, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    answer = api(http_event(method, path, body=body, headers=bearer()))
    return answer["statusCode"], answer_json(answer)


def create(api: Handler, name: str, kind: str = "crm") -> str:
    status, body = admin(api, "POST", "/v1/sources", {"name": name, "kind": kind})
    assert status == 201, body
    key: str = body["write_key"]
    return key


def send(collector: Handler, key: str, message_id: str) -> int:
    event = http_event(
        path="/v1/track",
        body={"userId": "u-1", "event": "Order Completed", "messageId": message_id},
        headers=basic_auth(key),
    )
    status: int = collector(event)["statusCode"]
    return status


def sources_of_stored_events(dynamodb: Any, table: str) -> dict[str, str]:
    items = dynamodb.scan(TableName=table)["Items"]
    return {item["sk"]["S"]: item["source"]["S"] for item in items}


def test_a_new_source_key_works_and_its_events_say_where_they_came_from(
    admin_api: Handler, collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    key = create(admin_api, "crm")

    assert key.startswith("wk_")
    assert send(collector, key, "from-crm") == 200
    assert send(collector, WRITE_KEY, "from-site") == 200
    assert sources_of_stored_events(dynamodb, table_names["EVENTS_TABLE"]) == {
        "from-crm": "crm",
        "from-site": "website",
    }


def test_keys_are_shown_once_and_stored_only_as_hashes(
    admin_api: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    key = create(admin_api, "crm")

    status, listed = admin(admin_api, "GET", "/v1/sources")
    assert status == 200
    [source] = listed["sources"]
    assert source["name"] == "crm"
    assert [k["state"] for k in source["keys"]] == ["active"]
    everything = str(listed) + str(dynamodb.scan(TableName=table_names["KEYS_TABLE"]))
    everything += str(dynamodb.scan(TableName=table_names["CONFIG_TABLE"]))
    assert key not in everything
    assert "key_hash" not in str(listed)


def test_a_source_name_is_taken_once(admin_api: Handler) -> None:
    create(admin_api, "crm")

    status, body = admin(admin_api, "POST", "/v1/sources", {"name": "crm", "kind": "crm"})

    assert status == 409
    assert "rotate" in body["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "Has Spaces"}, "name"),
        ({"name": "crm", "kind": "fax"}, "kind"),
        ({"name": "crm", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_source_is_a_400_naming_the_field(
    admin_api: Handler, body: dict[str, Any], fragment: str
) -> None:
    status, answer = admin(admin_api, "POST", "/v1/sources", body)

    assert status == 400
    assert fragment in answer["message"]


def test_a_rotated_key_keeps_working_for_the_overlap_then_stops(
    admin_api: Handler, collector: Handler, later: Callable[[timedelta], None]
) -> None:
    old = create(admin_api, "crm")

    status, rotated = admin(admin_api, "POST", "/v1/sources/crm/rotate", {"overlap_hours": 2})

    assert status == 200
    new = rotated["write_key"]
    assert [k["state"] for k in rotated["source"]["keys"]] == ["expiring", "active"]
    assert send(collector, old, "old-during-overlap") == 200
    assert send(collector, new, "new-during-overlap") == 200
    later(timedelta(hours=2, minutes=1))
    assert send(collector, old, "old-after-overlap") == 401
    assert send(collector, new, "new-after-overlap") == 200
    _, shown = admin(admin_api, "GET", "/v1/sources/crm")
    assert [k["state"] for k in shown["source"]["keys"]] == ["expired", "active"]


def test_a_temporary_key_stops_by_itself(
    admin_api: Handler, collector: Handler, later: Callable[[timedelta], None]
) -> None:
    create(admin_api, "crm")

    status, body = admin(admin_api, "POST", "/v1/sources/crm/keys", {"expires_hours": 1})

    assert status == 200
    assert send(collector, body["write_key"], "temporary-1") == 200
    later(timedelta(hours=1, seconds=1))
    assert send(collector, body["write_key"], "temporary-2") == 401


def test_a_disabled_source_takes_no_more_events(
    admin_api: Handler, collector: Handler, later: Callable[[timedelta], None]
) -> None:
    key = create(admin_api, "crm")
    assert send(collector, key, "before") == 200

    status, body = admin(admin_api, "POST", "/v1/sources/crm/disable")

    assert status == 200
    assert body["source"]["disabled"]
    later(timedelta(minutes=1, seconds=1))  # past the collector's key cache
    assert send(collector, key, "after") == 401
    status, refused = admin(admin_api, "POST", "/v1/sources/crm/rotate", {"overlap_hours": 1})
    assert status == 409
    assert "disabled" in refused["message"]


def test_an_unknown_source_is_a_404(admin_api: Handler) -> None:
    status, body = admin(admin_api, "POST", "/v1/sources/nobody/rotate", {"overlap_hours": 1})

    assert status == 404
    assert "nobody" in body["message"]


def test_a_write_key_cannot_manage_sources(admin_api: Handler) -> None:
    key = create(admin_api, "crm")

    answer = admin_api(http_event("GET", "/v1/sources", headers={"authorization": f"Bearer {key}"}))

    assert answer["statusCode"] == 401
