"""The console's copies of the Admin API and of export and erasure, on moto: the same routes
under /console/api, opened by a console user's role instead of the secret key; every export
and erasure written down, whoever made it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import answer_json, http_event
from tests.integration.conftest import bearer
from tests.integration.test_console_api import audit_entries, claims

Handler = Callable[[dict[str, Any]], dict[str, Any]]
Track = Callable[..., None]

SEGMENT = {"id": "parents", "name": "Parents", "condition": {"trait": "children", "gte": 1}}
FORM = {
    "id": "household",
    "name": "About your household",
    "fields": [{"trait": "children", "label": "How many?", "type": "number", "purpose": "offers"}],
}
SOURCE = {"name": "shop-app", "kind": "app"}


def call(
    api: Handler,
    method: str,
    path: str,
    role: str | None,
    body: Any = None,
    **query: str,
) -> tuple[int, Any]:
    event = http_event(method, path, body=body, query=query, claims=claims(role) if role else None)
    answer = api(event)
    return answer["statusCode"], answer_json(answer)


# What each role may change, by route: (method, path, body, the weakest role that may).
CHANGES = [
    ("PUT", "/console/api/segments/parents", SEGMENT, "editor"),
    ("POST", "/console/api/segments/preview", SEGMENT, "editor"),
    ("PUT", "/console/api/forms/household", FORM, "editor"),
    ("POST", "/console/api/sources", SOURCE, "admin"),
]
ROLES = ("viewer", "editor", "admin")


@pytest.mark.parametrize(("method", "path", "body", "weakest"), CHANGES)
def test_each_change_opens_only_to_the_roles_that_may_make_it(
    admin_api: Handler, method: str, path: str, body: Any, weakest: str
) -> None:
    for role in ROLES:
        status, answer = call(admin_api, method, path, role, body)
        if ROLES.index(role) < ROLES.index(weakest):
            assert status == 403, (role, answer)
            assert "ask an admin for the role" in answer["message"]
        else:
            assert status in (200, 201), (role, answer)


def test_every_role_reads_segments_forms_and_sources_and_nobody_without_a_token(
    admin_api: Handler,
) -> None:
    assert call(admin_api, "PUT", "/console/api/segments/parents", "editor", SEGMENT)[0] == 200
    for path in ("/console/api/segments", "/console/api/forms", "/console/api/sources"):
        assert call(admin_api, "GET", path, "viewer")[0] == 200
        status, answer = call(admin_api, "GET", path, None)
        assert status == 401, answer
    # and a secret key does not open the console's copy, nor a console token the API's
    event = http_event("GET", "/console/api/segments", headers=bearer())
    assert admin_api(event)["statusCode"] == 401
    assert call(admin_api, "GET", "/v1/segments", "admin")[0] == 401


def test_what_a_console_user_changes_is_what_the_api_reads(admin_api: Handler) -> None:
    assert call(admin_api, "PUT", "/console/api/segments/parents", "editor", SEGMENT)[0] == 200

    answer = answer_json(admin_api(http_event("GET", "/v1/segments/parents", headers=bearer())))

    assert answer["segment"]["condition"] == SEGMENT["condition"]


def test_a_wrong_condition_is_refused_with_where_it_is_wrong(admin_api: Handler) -> None:
    wrong = {**SEGMENT, "condition": {"all": [{"trait": "children", "bigger": 1}]}}

    status, answer = call(admin_api, "PUT", "/console/api/segments/parents", "editor", wrong)

    assert status == 400
    [(where, message)] = answer["fields"].items()
    assert where.startswith("condition")
    assert "all" in where
    assert message in answer["message"]


def test_a_wrong_field_is_refused_with_its_name(admin_api: Handler) -> None:
    status, answer = call(
        admin_api, "PUT", "/console/api/segments/parents", "editor", {**SEGMENT, "name": ""}
    )

    assert status == 400
    assert set(answer["fields"]) == {"name"}


def test_a_preview_counts_who_a_definition_would_match_without_storing_it(
    track: Track, admin_api: Handler
) -> None:
    track(
        {"type": "identify", "userId": "1", "traits": {"children": 2}},
        {"type": "identify", "userId": "2", "traits": {"children": 0}},
        {"type": "identify", "userId": "3", "traits": {"children": 1}},
    )

    status, preview = call(admin_api, "POST", "/console/api/segments/preview", "editor", SEGMENT)

    assert status == 200
    assert preview == {"sampled": 3, "matched": 2, "complete": True, "estimate": 2, "total": 3}
    assert call(admin_api, "GET", "/console/api/segments", "viewer")[1]["segments"] == []


def test_a_preview_of_a_segment_with_a_purpose_counts_only_who_granted_it(
    track: Track, admin_api: Handler
) -> None:
    track(
        {"type": "identify", "userId": "1", "traits": {"children": 2},
         "context": {"consent": {"categoryPreferences": {"marketing": True}}}},
        {"type": "identify", "userId": "2", "traits": {"children": 2}},
    )  # fmt: skip
    with_purpose = {**SEGMENT, "purpose": "marketing"}

    _, preview = call(admin_api, "POST", "/console/api/segments/preview", "editor", with_purpose)

    assert (preview["matched"], preview["sampled"]) == (1, 2)


def test_an_admin_exports_and_erases_a_person_and_both_are_written_down(
    track: Track, admin_api: Handler, privacy_api: Handler, console: Handler
) -> None:
    track({"type": "identify", "userId": "42", "traits": {"email": "ada@example.com"}})
    person = "/console/api/profiles/email:ada%40example.com"

    status, document = call(privacy_api, "GET", f"{person}/export", "admin", reason="her request")
    assert status == 200
    assert "ada@example.com" in json.dumps(document["profile"])
    status, erased = call(privacy_api, "DELETE", person, "admin", reason="her request")
    assert status == 200
    assert erased["erased"]["identities"] >= 2

    entries = audit_entries(console)
    assert [(e["action"], e["actor"], e["reason"]) for e in entries] == [
        ("erase", "admin@shop.example", "her request"),
        ("export", "admin@shop.example", "her request"),
    ]
    assert {e["asked_for"] for e in entries} == {"email"}  # never the address itself
    assert "ada@example.com" not in str(entries)


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_an_admin_may_export_or_erase(
    track: Track, privacy_api: Handler, console: Handler, role: str
) -> None:
    track({"type": "identify", "userId": "42"})

    assert call(privacy_api, "GET", "/console/api/profiles/user_id:42/export", role)[0] == 403
    assert call(privacy_api, "DELETE", "/console/api/profiles/user_id:42", role)[0] == 403
    assert call(privacy_api, "POST", "/console/api/profiles/user_id:42/unmerge", "admin")[0] in (
        401,
        403,
        404,
    )
    assert audit_entries(console) == []


def test_an_erasure_with_the_secret_key_is_written_down_under_its_source(
    track: Track, privacy_api: Handler, console: Handler
) -> None:
    track({"type": "identify", "userId": "42"})

    answer = privacy_api(http_event("DELETE", "/v1/profiles/user_id:42", headers=bearer()))

    assert answer["statusCode"] == 200
    [entry] = audit_entries(console)
    assert (entry["action"], entry["actor"], entry["asked_for"]) == (
        "erase",
        "secret key of operator",
        "user_id",
    )


def test_the_timeline_shows_one_type_of_event_when_asked(track: Track, console: Handler) -> None:
    track(
        {"type": "identify", "userId": "42", "traits": {"plan": "pro"}},
        {"type": "track", "userId": "42", "event": "Order Completed"},
        {"type": "page", "userId": "42", "name": "Home"},
        {"type": "track", "userId": "42", "event": "Signed Up"},
    )
    timeline = "/console/api/profiles/user_id:42/events"

    status, page = call(console, "GET", timeline, "viewer", type="track")
    refused, answer = call(console, "GET", timeline, "viewer", type="purchase")

    assert status == 200
    assert sorted(event["event"] for event in page["events"]) == ["Order Completed", "Signed Up"]
    assert refused == 400
    assert "type: one of identify, track, page" in answer["message"]
