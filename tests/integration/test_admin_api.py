"""The admin API's computed-trait routes on moto, and a new definition taking effect in the
profile builder and the Profile API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cdp.profiles.computed import COUNTING_DELAY
from cdp.runtime.clock import advance, iso, utc_now
from tests.factories import answer_json, basic_auth, http_event, stream_event, stream_record
from tests.integration.conftest import SECRET_KEY, WRITE_KEY, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]

# The admin API sends segment backfills to a queue: its settings need the queue's URL.
pytestmark = pytest.mark.usefixtures("queues")

DEFAULTS = json.loads(
    (Path(__file__).parents[2] / "layers/cdp/defaults/computed_traits.json").read_text()
)
DEFAULT_IDS = [definition["id"] for definition in DEFAULTS]
NEWSLETTER = {
    "id": "newsletter_signups",
    "type": "count",
    "event": "Newsletter Subscribed",
    "windows": [7],
}


def call(
    api: Handler, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return api(
        http_event(method, path, body=body, headers=bearer() if headers is None else headers)
    )


def listed(api: Handler) -> dict[str, dict[str, Any]]:
    answer = call(api, "GET", "/v1/computed-traits")
    assert answer["statusCode"] == 200, answer["body"]
    return {d["id"]: d for d in answer_json(answer)["computed_traits"]}


def put(api: Handler, definition: dict[str, Any], trait_id: str | None = None) -> dict[str, Any]:
    return call(api, "PUT", f"/v1/computed-traits/{trait_id or definition['id']}", definition)


def test_the_list_holds_the_defaults(admin_api: Handler) -> None:
    traits = listed(admin_api)

    assert list(traits) == DEFAULT_IDS
    assert traits["revenue"] == {
        **DEFAULTS[DEFAULT_IDS.index("revenue")],
        "message_type": None,
        "of": None,
        "enabled": True,
        "counts_from": None,  # a default never changed has counted every event
    }
    assert traits["days_since_last_order"]["of"] == "last_order_at"


def test_a_valid_definition_is_stored_and_listed(admin_api: Handler) -> None:
    # when
    answer = put(admin_api, NEWSLETTER)

    # then
    assert answer["statusCode"] == 200, answer["body"]
    assert answer_json(answer) | NEWSLETTER == answer_json(answer)
    traits = listed(admin_api)
    assert list(traits) == [*DEFAULT_IDS, "newsletter_signups"]
    assert traits["newsletter_signups"]["event"] == "Newsletter Subscribed"
    assert traits["newsletter_signups"]["windows"] == [7]
    single = call(admin_api, "GET", "/v1/computed-traits/newsletter_signups")
    assert single["statusCode"] == 200
    assert answer_json(single) == traits["newsletter_signups"]


def test_a_put_replaces_a_definition_and_can_change_a_default(admin_api: Handler) -> None:
    put(admin_api, NEWSLETTER)

    assert put(admin_api, {**NEWSLETTER, "windows": [30, 90]})["statusCode"] == 200
    assert (
        put(admin_api, {"id": "page_views", "type": "count", "message_type": "page"})["statusCode"]
        == 200
    )

    traits = listed(admin_api)
    assert traits["newsletter_signups"]["windows"] == [30, 90]
    assert traits["page_views"]["windows"] == []
    assert list(traits).count("page_views") == 1


@pytest.mark.parametrize(
    ("definition", "path_id", "points_at"),
    [
        ({"id": "spend", "type": "sum", "event": "Order Completed"}, None, "property"),
        ({**NEWSLETTER, "windows": [365]}, None, "windows"),
        ({**NEWSLETTER, "windows": [0]}, None, "windows"),
        ({**NEWSLETTER, "id": "newsletters"}, "newsletter_signups", "id"),
        ({"id": "days_since_x", "type": "days_since", "of": "nothing_like_it"}, None, "of"),
        ({"id": "days_since_y", "type": "days_since", "of": "orders"}, None, "of"),  # a count
        ({"id": "days_since_z", "type": "days_since"}, None, "of"),
        ({"id": "signups", "type": "count"}, None, "event"),
        ({"id": "signups", "type": "count", "event": "X", "message_type": "page"}, None, "event"),
        ({"id": "signups", "type": "median", "event": "X"}, None, "type"),
        ({**NEWSLETTER, "colour": "blue"}, None, "colour"),
        ({**NEWSLETTER, "id": "Newsletter"}, "newsletter", "id"),
        (
            {"id": "best", "type": "max", "event": "X", "property": "p", "windows": [7]},
            None,
            "windows",
        ),
    ],
)
def test_an_invalid_definition_is_a_400_that_points_at_the_problem(
    admin_api: Handler, definition: dict[str, Any], path_id: str | None, points_at: str
) -> None:
    answer = put(admin_api, definition, path_id)

    assert answer["statusCode"] == 400, answer["body"]
    body = answer_json(answer)
    assert body["code"] == "invalid_request"
    assert points_at in body["message"]
    assert "Traceback" not in answer["body"]
    assert list(listed(admin_api)) == DEFAULT_IDS  # nothing was stored


def test_an_invalid_path_id_is_a_400(admin_api: Handler) -> None:
    answer = put(admin_api, {**NEWSLETTER, "id": "Bad-Id"}, "Bad-Id")
    assert answer["statusCode"] == 400
    assert answer_json(answer)["code"] == "invalid_request"


def test_a_body_that_is_not_json_is_a_400(admin_api: Handler) -> None:
    answer = call(admin_api, "PUT", "/v1/computed-traits/newsletter_signups", "{not json")
    assert answer["statusCode"] == 400
    assert answer_json(answer)["code"] == "invalid_request"


def test_days_since_may_refer_to_an_occurrence_trait_defined_earlier(admin_api: Handler) -> None:
    first = {"id": "first_signup_at", "type": "first_occurrence", "event": "Signed Up"}
    since = {"id": "days_since_signup", "type": "days_since", "of": "first_signup_at"}

    assert put(admin_api, since)["statusCode"] == 400  # not defined yet
    assert put(admin_api, first)["statusCode"] == 200
    assert put(admin_api, since)["statusCode"] == 200
    assert {"first_signup_at", "days_since_signup"} <= set(listed(admin_api))


def test_deleting_a_configured_trait_removes_it(admin_api: Handler) -> None:
    put(admin_api, NEWSLETTER)

    answer = call(admin_api, "DELETE", "/v1/computed-traits/newsletter_signups")

    assert answer["statusCode"] == 200
    assert answer_json(answer) == {"success": True, "deleted": "newsletter_signups"}
    assert list(listed(admin_api)) == DEFAULT_IDS
    assert call(admin_api, "GET", "/v1/computed-traits/newsletter_signups")["statusCode"] == 404
    again = call(admin_api, "DELETE", "/v1/computed-traits/newsletter_signups")
    assert again["statusCode"] == 404


def test_deleting_a_default_switches_it_off(admin_api: Handler) -> None:
    answer = call(admin_api, "DELETE", "/v1/computed-traits/page_views")

    assert answer["statusCode"] == 200
    assert answer_json(answer) == {"success": True, "deleted": "page_views"}
    assert list(listed(admin_api)) == [i for i in DEFAULT_IDS if i != "page_views"]
    assert call(admin_api, "GET", "/v1/computed-traits/page_views")["statusCode"] == 404


def test_a_switched_off_default_can_be_put_back(admin_api: Handler) -> None:
    call(admin_api, "DELETE", "/v1/computed-traits/email_clicks")
    original = DEFAULTS[DEFAULT_IDS.index("email_clicks")]

    assert put(admin_api, original)["statusCode"] == 200

    assert listed(admin_api)["email_clicks"]["event"] == "Email Link Clicked"


def test_deleting_an_unknown_trait_is_a_404(admin_api: Handler) -> None:
    answer = call(admin_api, "DELETE", "/v1/computed-traits/never_defined")

    assert answer["statusCode"] == 404
    body = answer_json(answer)
    assert body["code"] == "not_found"
    assert "never_defined" in body["message"]
    assert list(listed(admin_api)) == DEFAULT_IDS


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": f"Bearer {WRITE_KEY}"},
        {"authorization": "Bearer sk_wrong"},
        basic_auth(SECRET_KEY),
    ],
    ids=["none", "write-key", "wrong-key", "basic"],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/computed-traits", None),
        ("GET", "/v1/computed-traits/page_views", None),
        ("PUT", "/v1/computed-traits/newsletter_signups", NEWSLETTER),
        ("DELETE", "/v1/computed-traits/page_views", None),
    ],
)
def test_every_route_needs_the_secret_key(
    admin_api: Handler, headers: dict[str, str], method: str, path: str, body: Any
) -> None:
    answer = call(admin_api, method, path, body, headers)

    assert answer["statusCode"] == 401
    assert answer_json(answer)["code"] == "unauthorized"
    assert list(listed(admin_api)) == DEFAULT_IDS  # and nothing changed


def test_a_put_never_silently_evicts_another_trait(admin_api: Handler) -> None:
    # given as many configured traits as fit (50 with the defaults)
    for n in range(50 - len(DEFAULT_IDS)):
        assert (
            put(admin_api, {"id": f"t{n:02d}", "type": "count", "event": f"E{n}"})["statusCode"]
            == 200
        )
    before = set(listed(admin_api))

    # when one more is defined
    answer = put(admin_api, {"id": "a_new", "type": "count", "event": "New"})

    # then it is refused with a reason, and every other one is kept
    assert answer["statusCode"] == 400
    assert "at most 50 computed traits" in answer_json(answer)["message"]
    assert set(listed(admin_api)) == before


# --- end to end ------------------------------------------------------------------------------


def test_a_new_computed_trait_is_used_by_the_builder_and_shown_by_the_profile_api(
    admin_api: Handler, profile_builder: Handler, profile_api: Handler
) -> None:
    from functions.profile_builder import handler as builder

    now = datetime.now(UTC)

    def subscribed(days_ago: float, event: str = "Newsletter Subscribed") -> dict[str, Any]:
        message = {"type": "track", "userId": "42", "event": event, "receivedAt": iso(utc_now())}
        return stream_record({**message, "timestamp": iso(now - timedelta(days=days_ago))})

    # given the builder has already seen the person (and cached the definitions)
    profile_builder(stream_event(subscribed(0.5, "Signed Up")))
    # when a computed trait is defined
    assert put(admin_api, NEWSLETTER)["statusCode"] == 200
    builder._dependencies.cache_clear()  # as a cold container, or a minute later
    # and matching (and other) events arrive from when it counts (those before: its backfill)
    advance(COUNTING_DELAY)
    answer = profile_builder(
        stream_event(subscribed(10), subscribed(2), subscribed(0.1), subscribed(1, "Other"))
    )
    assert answer == {"batchItemFailures": []}

    # then the Profile API shows the new values, the window counting the last 7 days only
    looked_up = profile_api(http_event("GET", "/v1/profiles/user_id:42", headers=bearer()))
    assert looked_up["statusCode"] == 200
    computed = answer_json(looked_up)["computed"]
    assert computed["newsletter_signups"] == 3
    assert computed["newsletter_signups_7d"] == 2


def test_a_switched_off_default_is_no_longer_shown_by_the_profile_api(
    admin_api: Handler, profile_builder: Handler, profile_api: Handler
) -> None:
    profile_builder(stream_event(stream_record({"type": "page", "userId": "42", "name": "Home"})))
    before = answer_json(
        profile_api(http_event("GET", "/v1/profiles/user_id:42", headers=bearer()))
    )
    assert before["computed"]["page_views"] == 1

    call(admin_api, "DELETE", "/v1/computed-traits/page_views")

    from functions.profile_api import handler as api

    api._app.cache_clear()  # a fresh container: the API caches definitions for a minute
    after = answer_json(profile_api(http_event("GET", "/v1/profiles/user_id:42", headers=bearer())))
    assert not any(name.startswith("page_views") for name in after["computed"])
    assert after["computed"]["orders"] == 0
