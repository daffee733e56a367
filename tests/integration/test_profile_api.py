"""The Profile API's Lambda handler on moto, over profiles built the real way: messages go
through the collector into the events table, the stored messages reach the profile builder as
stream records, and other systems look the result up with the secret key."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdp.runtime.clock import iso
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import SECRET_KEY, WRITE_KEY, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]
Track = Callable[..., None]

NOW = datetime.now(UTC)


def ago(**delta: float) -> str:
    """A client timestamp in the past, in the collector's own format."""
    return iso(NOW - timedelta(**delta))


def get(api: Handler, path: str, query: dict[str, str] | None = None, **headers: str) -> Any:
    return api(
        http_event("GET", path, query=query, headers=headers if headers else bearer(SECRET_KEY))
    )


def lookup(api: Handler, identity: str) -> dict[str, Any]:
    answer = get(api, f"/v1/profiles/{identity}")
    assert answer["statusCode"] == 200, answer["body"]
    profile: dict[str, Any] = answer_json(answer)
    return profile


ADA = {
    "type": "identify",
    "userId": "42",
    "anonymousId": "abc",
    "traits": {"email": "Ada@Example.com", "name": "Ada", "plan": "pro"},
    "context": {"externalIds": [{"id": "123", "type": "ga_client_id", "collection": "users"}]},
}


# --- lookups ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identity",
    [
        "user_id:42",
        "anonymous_id:abc",
        "email:ada%40example.com",
        "email:ADA%40Example.COM",  # e-mails are normalised: the lookup is case-insensitive
        "email:%20ada%40example.com%20",  # and trimmed
        "ga_client_id:123",
    ],
)
def test_a_profile_is_found_by_every_identity_it_has(
    track: Track, profile_api: Handler, identity: str
) -> None:
    # given one person who browsed, signed up and ordered
    identified_at = ago(hours=2)
    track(
        {"type": "page", "anonymousId": "abc", "name": "Home", "timestamp": ago(hours=3)},
        {**ADA, "timestamp": identified_at},
        {
            "type": "track",
            "userId": "42",
            "event": "Order Completed",
            "properties": {"revenue": 19.99},
            "timestamp": ago(hours=1),
        },
    )

    # when
    profile = lookup(profile_api, identity)

    # then
    assert profile["profile_id"]
    assert profile["identities"] == [
        {"type": "anonymous_id", "value": "abc"},
        {"type": "email", "value": "ada@example.com"},
        {"type": "ga_client_id", "value": "123"},
        {"type": "user_id", "value": "42"},
    ]
    assert profile["traits"] == {"email": "Ada@Example.com", "name": "Ada", "plan": "pro"}
    assert profile["trait_sources"] == {
        name: {"kind": "observed", "source": "website", "set_at": identified_at, "expires_at": None}
        for name in ("email", "name", "plan")
    }
    assert profile["computed"]["page_views"] == 1
    assert profile["computed"]["page_views_7d"] == 1
    assert profile["computed"]["orders"] == 1
    assert profile["computed"]["revenue"] == 19.99
    assert profile["computed"]["days_since_last_seen"] == 0
    assert profile["segments"] == []
    assert profile["consent"] == {}
    assert profile["first_seen"] == ago(hours=3)
    assert profile["last_seen"] == ago(hours=1)
    assert profile["event_count"] == 3


def test_every_identity_leads_to_the_same_profile(track: Track, profile_api: Handler) -> None:
    track({**ADA, "timestamp": ago(minutes=5)})
    track({"type": "page", "anonymousId": "someone-else", "timestamp": ago(minutes=4)})

    found = {
        identity: lookup(profile_api, identity)["profile_id"]
        for identity in ("user_id:42", "anonymous_id:abc", "email:ada%40example.com")
    }

    assert len(set(found.values())) == 1
    assert lookup(profile_api, "anonymous_id:someone-else")["profile_id"] not in found.values()


def test_any_external_id_type_can_be_looked_up(track: Track, profile_api: Handler) -> None:
    # given an external id of a type the platform has no special knowledge of
    track(
        {
            "type": "track",
            "userId": "7",
            "event": "Called Support",
            "context": {"externalIds": [{"id": "+31 20 123", "type": "Phone"}]},
        }
    )

    profile = lookup(profile_api, "phone:%2B31%2020%20123")

    assert {"type": "user_id", "value": "7"} in profile["identities"]
    assert {"type": "phone", "value": "+31 20 123"} in profile["identities"]


def test_an_unknown_identity_is_a_404_that_says_what_was_not_found(
    track: Track, profile_api: Handler
) -> None:
    track({**ADA, "timestamp": ago(minutes=5)})

    for identity, shown in [
        ("user_id:43", "user_id:43"),
        ("email:grace%40example.com", "email:grace@example.com"),
        ("ga_client_id:999", "ga_client_id:999"),
        ("phone:1", "phone:1"),  # a well-formed external id that nobody has
    ]:
        answer = get(profile_api, f"/v1/profiles/{identity}")
        assert answer["statusCode"] == 404, identity
        assert answer_json(answer) == {
            "success": False,
            "code": "not_found",
            "message": f"no profile has the identity {shown}",
        }


@pytest.mark.parametrize(
    "identity",
    [
        "42",  # no type
        "user_id",  # no colon
        "user_id:",  # no value
        ":42",  # no type before the colon
        "email:not-an-email",
        "email:ada%40example",
        "email:ada%40%40example.com",
        "Phone%20Number:1",  # not a type an identity can have
        "9lives:1",
        "user_id:" + "x" * 513,  # over the length of any identity
    ],
)
def test_a_malformed_identity_is_a_400_that_explains_the_format(
    profile_api: Handler, identity: str
) -> None:
    for path in (f"/v1/profiles/{identity}", f"/v1/profiles/{identity}/events"):
        answer = get(profile_api, path)

        assert answer["statusCode"] == 400, (path, answer["body"])
        body = answer_json(answer)
        assert body["code"] == "invalid_request"
        assert "user_id:42" in body["message"]
        assert "Traceback" not in answer["body"]


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": f"Bearer {WRITE_KEY}"},  # a write key (web pages carry it)
        {"authorization": "Bearer sk_wrong"},
        {"authorization": "Bearer wk_disabled"},
        {"authorization": "Bearer "},
        basic_auth(SECRET_KEY),  # the right key, the wrong scheme
        {"authorization": SECRET_KEY},  # no scheme at all
    ],
    ids=["none", "write-key", "wrong-key", "disabled-key", "empty", "basic", "no-scheme"],
)
@pytest.mark.parametrize("path", ["/v1/profiles/user_id:42", "/v1/profiles/user_id:42/events"])
def test_anything_but_the_secret_key_as_bearer_is_a_401(
    track: Track, profile_api: Handler, headers: dict[str, str], path: str
) -> None:
    track({**ADA, "timestamp": ago(minutes=5)})

    answer = profile_api(http_event("GET", path, headers=headers))

    assert answer["statusCode"] == 401
    body = answer_json(answer)
    assert body["code"] == "unauthorized"
    assert "secret key" in body["message"]
    assert "Ada" not in answer["body"]


@pytest.mark.parametrize("header", [f"Bearer {SECRET_KEY}", f"bearer  {SECRET_KEY} "])
def test_the_secret_key_as_bearer_opens_the_profile(
    track: Track, profile_api: Handler, header: str
) -> None:
    track({**ADA, "timestamp": ago(minutes=5)})

    answer = profile_api(
        http_event("GET", "/v1/profiles/user_id:42", headers={"authorization": header})
    )

    assert answer["statusCode"] == 200
    assert answer_json(answer)["traits"]["name"] == "Ada"


def test_the_openapi_document_is_public_and_valid(profile_api: Handler) -> None:
    from openapi_spec_validator import validate  # installed with moto[server]

    answer = profile_api(http_event("GET", "/v1/openapi.json"))

    assert answer["statusCode"] == 200
    document = answer_json(answer)
    validate(document)
    assert document["openapi"].startswith("3.")
    assert {"/v1/profiles/{identity}", "/v1/profiles/{identity}/events"} <= set(document["paths"])
    assert "get" in document["paths"]["/v1/profiles/{identity}"]
    assert document["components"]["securitySchemes"]["secretKey"]["scheme"].lower() == "bearer"


# --- timeline --------------------------------------------------------------------------------


@pytest.fixture
def history(track: Track) -> list[str]:
    """Eleven events of one person under two identities: browsing anonymously, an identify
    linking the browser to user 42, then activity as the user, interleaved with more anonymous
    page views. Answers their message ids, newest first."""
    sent: list[tuple[str, dict[str, Any]]] = []
    for minute in range(60, 20, -10):  # 4 anonymous page views
        sent.append((ago(minutes=minute), {"type": "page", "anonymousId": "abc"}))
    sent.append((ago(minutes=19), {"type": "identify", "userId": "42", "anonymousId": "abc"}))
    for minute in range(18, 0, -3):  # 6 events alternating between the two identities
        who = {"userId": "42"} if minute % 2 else {"anonymousId": "abc"}
        sent.append((ago(minutes=minute), {"type": "track", "event": f"Step {minute}", **who}))
    messages = [
        {**message, "timestamp": at, "messageId": f"m-{n:02d}"}
        for n, (at, message) in enumerate(sent)
    ]
    track(*messages[:4])
    track(*messages[4:])
    return [m["messageId"] for m in sorted(messages, key=lambda m: m["timestamp"], reverse=True)]


def read_timeline(api: Handler, identity: str, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        answer = get(api, f"/v1/profiles/{identity}/events", query)
        assert answer["statusCode"] == 200, answer["body"]
        page = answer_json(answer)
        assert len(page["events"]) <= limit
        pages.append(page["events"])
        cursor = page["cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor never ends"


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 11, 100])
@pytest.mark.parametrize("identity", ["user_id:42", "anonymous_id:abc"])
def test_the_timeline_pages_through_every_merged_identity_newest_first(
    history: list[str], profile_api: Handler, identity: str, limit: int
) -> None:
    # when
    pages = read_timeline(profile_api, identity, limit)

    # then every event comes exactly once, newest first, under both identities
    events = [event for page in pages for event in page]
    assert [event["messageId"] for event in events] == history
    assert {event.get("userId") or event["anonymousId"] for event in events} == {"42", "abc"}
    # and only the last page may be short
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages) <= len(history) // limit + 1


def test_the_timeline_holds_the_stored_messages(history: list[str], profile_api: Handler) -> None:
    answer = get(profile_api, "/v1/profiles/user_id:42/events", {"limit": "1"})

    [newest] = answer_json(answer)["events"]
    assert newest["messageId"] == history[0]
    assert newest["type"] == "track"
    assert newest["event"] == "Step 3"
    assert newest["userId"] == "42"
    assert newest["timestamp"] == ago(minutes=3)
    assert "writeKey" not in newest


def test_the_default_page_is_twenty_events(track: Track, profile_api: Handler) -> None:
    track(
        *[
            {"type": "track", "userId": "42", "event": "Tick", "timestamp": ago(minutes=n)}
            for n in range(1, 26)
        ]
    )

    first = answer_json(get(profile_api, "/v1/profiles/user_id:42/events"))
    rest = answer_json(
        get(profile_api, "/v1/profiles/user_id:42/events", {"cursor": first["cursor"]})
    )

    assert len(first["events"]) == 20
    assert len(rest["events"]) == 5
    assert rest["cursor"] is None
    ids = {e["messageId"] for e in first["events"]} | {e["messageId"] for e in rest["events"]}
    assert len(ids) == 25


def test_a_timeline_of_an_unknown_identity_is_a_404(profile_api: Handler) -> None:
    answer = get(profile_api, "/v1/profiles/user_id:nobody/events")
    assert answer["statusCode"] == 404
    assert answer_json(answer)["code"] == "not_found"


def _cursor(positions: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(positions).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "!!!!"}, "cursor"),
        ({"cursor": "x" * 9000}, "cursor"),
        ({"cursor": _cursor(["user_id:42"])}, "cursor"),
        ({"cursor": _cursor({"user_id:42": 17})}, "cursor"),
        ({"cursor": _cursor("just text")}, "cursor"),
    ],
)
def test_bad_paging_parameters_are_a_400(
    history: list[str], profile_api: Handler, query: dict[str, str], problem: str
) -> None:
    answer = get(profile_api, "/v1/profiles/user_id:42/events", query)

    assert answer["statusCode"] == 400, answer["body"]
    body = answer_json(answer)
    assert body["code"] == "invalid_request"
    assert body["message"].startswith(problem)
    assert "Traceback" not in answer["body"]


# --- merges ----------------------------------------------------------------------------------


def test_after_a_merge_the_absorbed_profiles_identities_find_the_merged_profile(
    track: Track, profile_api: Handler
) -> None:
    # given a known user, signed up on the laptop
    track(
        {
            "type": "identify",
            "userId": "42",
            "anonymousId": "laptop",
            "traits": {"plan": "pro"},
            "timestamp": ago(days=3),
        }
    )
    user_profile = lookup(profile_api, "user_id:42")["profile_id"]
    # and, separately, an anonymous visitor on a phone who left an e-mail and a GA id
    track(
        {
            "type": "page",
            "anonymousId": "phone",
            "name": "Newsletter",
            "context": {
                "traits": {"email": "Ada@Example.com"},
                "externalIds": [{"id": "GA1.2", "type": "ga_client_id"}],
            },
            "timestamp": ago(days=2),
        }
    )
    phone_profile = lookup(profile_api, "anonymous_id:phone")["profile_id"]
    assert phone_profile != user_profile

    # when the phone signs in as user 42
    track({"type": "identify", "userId": "42", "anonymousId": "phone", "timestamp": ago(days=1)})

    # then every identity of the absorbed profile finds the user's profile
    for identity in ("anonymous_id:phone", "email:ada%40example.com", "ga_client_id:GA1.2"):
        merged = lookup(profile_api, identity)
        assert merged["profile_id"] == user_profile, identity
        assert merged == lookup(profile_api, "user_id:42")
    assert {(i["type"], i["value"]) for i in merged["identities"]} == {
        ("user_id", "42"),
        ("anonymous_id", "laptop"),
        ("anonymous_id", "phone"),
        ("email", "ada@example.com"),
        ("ga_client_id", "GA1.2"),
    }
    assert merged["traits"] == {"plan": "pro"}
    assert merged["computed"]["page_views"] == 1
    assert merged["event_count"] == 3
    assert merged["first_seen"] == ago(days=3)
    assert merged["last_seen"] == ago(days=1)
    # and the timeline, asked by the absorbed identity, holds the whole story
    timeline = answer_json(get(profile_api, "/v1/profiles/anonymous_id:phone/events"))
    assert [e["type"] for e in timeline["events"]] == ["identify", "page", "identify"]
    assert timeline["cursor"] is None


@pytest.mark.parametrize(
    "user_id", ["a/b", "with space", "100%", "a+b", "x:y", "Ünïcødé", "semi;colon", "q?u#e"]
)
def test_identities_with_any_characters_are_found_url_encoded(
    track: Track, profile_api: Handler, user_id: str
) -> None:
    from urllib.parse import quote

    track({"type": "track", "userId": user_id, "event": "Odd Id", "timestamp": ago(minutes=1)})

    encoded = quote(f"user_id:{user_id}", safe=":")
    profile = lookup(profile_api, encoded)
    timeline = answer_json(get(profile_api, f"/v1/profiles/{encoded}/events"))

    assert profile["identities"] == [{"type": "user_id", "value": user_id}]
    assert [e["userId"] for e in timeline["events"]] == [user_id]
