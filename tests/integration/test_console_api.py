"""The console's API on moto: who may see what of a person, and what is written down.

Requests carry a console user's token claims as API Gateway's JWT authorizer hands them on
(the authorizer itself: tests/integration/test_console_signin.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import answer_json, http_event
from tests.integration.conftest import SIGN_IN_URL
from tests.integration.test_profile_api import ADA

Handler = Callable[[dict[str, Any]], dict[str, Any]]
Track = Callable[..., None]


def claims(role: str, email: str | None = None) -> dict[str, str]:
    return {
        "sub": f"sub-{role}",
        "email": email or f"{role}@shop.example",
        "cognito:groups": f"[{role}]",
    }


def get(api: Handler, path: str, role: str | None, **query: str) -> tuple[int, Any]:
    answer = api(http_event("GET", path, query=query, claims=claims(role) if role else None))
    return answer["statusCode"], answer_json(answer)


@pytest.fixture
def ada(track: Track) -> None:
    track(ADA, {"type": "track", "userId": "42", "event": "Order Completed"})


def audit_entries(console: Handler) -> list[dict[str, Any]]:
    status, body = get(console, "/console/api/audit", "admin")
    assert status == 200
    entries: list[dict[str, Any]] = body["entries"]
    return entries


def test_a_viewer_finds_a_person_by_e_mail_and_sees_them_masked(
    ada: None, console: Handler
) -> None:
    # when a viewer searches for Ada's address and opens what was found
    status, found = get(console, "/console/api/search", "viewer", q=" ADA@example.com ")
    assert status == 200
    [match] = found["matches"]
    opened = f"/console/api/profiles/profile_id:{match['profile_id']}"
    status, sheet = get(console, opened, "viewer")
    _, timeline = get(console, "/console/api/profiles/email:ada@example.com/events", "viewer")

    # then they see her profile's shape, never her: no identifier or personal trait in any
    # answer, and nothing written to the audit log (a masked view shows no one)
    assert status == 200
    assert sheet["masked"] is True
    assert timeline["masked"] is True
    assert len(timeline["events"]) == 2
    text = json.dumps([found, sheet, timeline])
    for value in ("ada@example.com", "Ada@Example.com", "abc", '"42"', "Ada", "123"):
        assert value not in text
    assert audit_entries(console) == []


def test_an_editor_sees_the_person_whole_and_the_view_is_written_down(
    ada: None, console: Handler
) -> None:
    # when an editor opens Ada's profile, giving a reason
    status, sheet = get(
        console, "/console/api/profiles/email:ada%40example.com", "editor", reason="complaint 7"
    )

    # then they see her whole, and the audit log says who looked at whom, and why
    assert status == 200
    assert sheet["masked"] is False
    assert "ada@example.com" in json.dumps(sheet["profile"])
    [entry] = audit_entries(console)
    assert entry == {
        "at": entry["at"],
        "actor": "editor@shop.example",
        "actor_id": "sub-editor",
        "action": "view_profile",
        "profile_id": sheet["profile"]["profile_id"],
        "asked_for": "email",
        "reason": "complaint 7",
    }


def test_the_audit_log_is_for_admins_only(console: Handler) -> None:
    for role in ("viewer", "editor"):
        status, body = get(console, "/console/api/audit", role)
        assert status == 403
        assert "may not" in body["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/api/session",
        "/console/api/search",
        "/console/api/profiles/email:ada%40example.com",
        "/console/api/audit",
    ],
)
def test_without_a_token_nothing_is_answered(console: Handler, path: str) -> None:
    status, body = get(console, path, None, q="ada@example.com")

    assert status == 401
    assert body["message"] == "sign in to the console first"


def test_the_session_says_who_is_signed_in_and_what_they_may_do(console: Handler) -> None:
    status, session = get(console, "/console/api/session", "editor")

    assert status == 200
    assert session["name"] == "editor@shop.example"
    assert session["role"] == "editor"
    assert "view_personal_data" in session["abilities"]
    assert "erase" not in session["abilities"]
    assert session["purposes"] == ["analytics", "personalization", "marketing", "sharing"]


def test_a_search_that_finds_nobody_is_an_empty_list(console: Handler) -> None:
    assert get(console, "/console/api/search", "viewer", q="nobody@example.com") == (
        200,
        {"matches": []},
    )


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/console/api/profiles/nonsense", {}, "identity: use type:value"),
        ("/console/api/profiles/email:nobody%40example.com", {}, "nobody has the identity"),
        ("/console/api/search", {"q": "x" * 600}, "q: at most 512"),
        ("/console/api/profiles/email:ada%40example.com/events", {"limit": "0"}, "limit:"),
    ],
)
def test_a_bad_request_is_told_what_is_wrong(
    ada: None, console: Handler, path: str, query: dict[str, str], message: str
) -> None:
    status, body = get(console, path, "viewer", **query)

    assert 400 <= status < 500
    assert message in body["message"]


def test_the_page_learns_where_to_sign_in_without_signing_in(console: Handler) -> None:
    status, config = get(console, "/console/api/config", None)

    assert status == 200
    assert config == {
        "authorize_url": f"{SIGN_IN_URL}/oauth2/authorize",
        "token_url": f"{SIGN_IN_URL}/oauth2/token",
        "logout_url": f"{SIGN_IN_URL}/logout",
        "client_id": "page-client",
        "scope": "openid email",
    }


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/console/api/config", None),
        ("/console/api/session", "viewer"),
        ("/console/api/audit", None),
    ],
)
def test_every_answer_carries_the_consoles_security_headers(
    console: Handler, path: str, role: str | None
) -> None:
    answer = console(http_event("GET", path, claims=claims(role) if role else None))

    headers = answer["headers"]
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert f"connect-src 'self' {SIGN_IN_URL};" in policy
    assert "unsafe-inline" not in policy
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_each_page_of_a_timeline_seen_whole_is_written_down(track: Track, console: Handler) -> None:
    # given a person with more events than one page holds
    track(ADA, *({"type": "track", "userId": "42", "event": f"Viewed {n}"} for n in range(4)))

    # when an editor reads their timeline two events at a time, to the end
    path = "/console/api/profiles/user_id:42/events"
    status, page = get(console, path, "editor", limit="2")
    pages = 1
    while page["cursor"]:
        status, page = get(console, path, "editor", limit="2", cursor=page["cursor"])
        pages += 1

    # then every page was whole, and each is in the log: a cursor can be made up, so a page
    # asked for with one is a view like the first
    assert status == 200
    assert pages == 3
    assert [entry["action"] for entry in audit_entries(console)] == ["view_events"] * 3


def test_an_editors_search_is_written_down_for_each_person_it_shows(
    ada: None, console: Handler
) -> None:
    status, found = get(console, "/console/api/search", "editor", q="ada@example.com")

    assert status == 200
    [match] = found["matches"]
    assert {"type": "email", "value": "ada@example.com"} in match["identities"]
    [entry] = audit_entries(console)
    assert (entry["action"], entry["profile_id"], entry["asked_for"]) == (
        "search",
        match["profile_id"],
        "search",
    )
