"""One person per profile: identifiers that are placeholders ("undefined", "null", "0", as
buggy sites send them) never merge people; each refusal is on the profile and in the answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer, quarantined

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def send(collector: Handler, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return collector(http_event(path=path, body=body, headers=basic_auth(WRITE_KEY)))


def profile(profile_api: Handler, identity: str) -> dict[str, Any]:
    answer = profile_api(http_event("GET", f"/v1/profiles/{identity}", headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    found: dict[str, Any] = answer_json(answer)
    return found


@pytest.mark.parametrize(
    "placeholder", ["undefined", "null", "0", " Undefined ", "NULL", "[object Object]"]
)
def test_strangers_signing_in_with_a_placeholder_user_id_stay_apart(
    placeholder: str,
    collector: Handler,
    pipeline: Callable[[], None],
    profile_api: Handler,
) -> None:
    # given three strangers on three devices, whose site sends a broken user id at sign-in
    for n in range(3):
        body = {"userId": placeholder, "anonymousId": f"device-{n}",
                "traits": {"email": f"person{n}@example.com"}}  # fmt: skip
        answer = send(collector, "/v1/identify", body)
        assert answer["statusCode"] == 200, answer["body"]
        [ignored] = answer_json(answer)["ignored_identities"]
        assert ignored["reason"] == "a placeholder, not an identifier"
        assert ignored["identity"].startswith("user_id:")
    pipeline()
    # then each is their own person, with the placeholder shown as ignored
    ids = set()
    for n in range(3):
        person = profile(profile_api, f"anonymous_id:device-{n}")
        ids.add(person["profile_id"])
        assert {i["type"]: i["value"] for i in person["identities"]} == {
            "anonymous_id": f"device-{n}",
            "email": f"person{n}@example.com",
        }
        assert [i["type"] for i in person["ignored_identities"]] == ["user_id"]
    assert len(ids) == 3
    # and nobody can be looked up by the placeholder
    answer = profile_api(
        http_event("GET", f"/v1/profiles/user_id:{placeholder.strip()}", headers=bearer())
    )
    assert answer["statusCode"] in (400, 404)


def test_a_placeholder_e_mail_address_does_not_merge_people(
    collector: Handler, pipeline: Callable[[], None], profile_api: Handler
) -> None:
    for n in range(2):
        body = {"userId": f"real-{n}", "traits": {"email": "Test@Test.com"}}
        assert send(collector, "/v1/identify", body)["statusCode"] == 200
    body = {"anonymousId": "visitor", "traits": {"email": "test@test.com"}}
    assert send(collector, "/v1/identify", body)["statusCode"] == 200
    pipeline()
    visitor = profile(profile_api, "anonymous_id:visitor")
    assert [i["type"] for i in visitor["identities"]] == ["anonymous_id"]
    assert visitor["traits"]["email"] == "test@test.com"  # still a trait, only not an identity


def test_a_message_with_only_a_placeholder_is_refused_and_kept_with_the_reason(
    collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    body = {"userId": "undefined", "event": "Order Completed"}
    answer = send(collector, "/v1/track", body)
    assert answer["statusCode"] == 400
    assert "'undefined': a placeholder, not an identifier" in answer_json(answer)["message"]
    [item] = quarantined(dynamodb, table_names["QUARANTINE_TABLE"])
    assert json.loads(item["payload"]["S"]) == body
    alias = send(collector, "/v1/alias", {"userId": "u-1", "previousId": "null"})
    assert alias["statusCode"] == 400
    assert "previousId" in answer_json(alias)["message"]


def test_a_deployment_adds_its_own_placeholders(
    collector: Handler,
    pipeline: Callable[[], None],
    profile_api: Handler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IDENTITY_BLOCKLIST", json.dumps(["guest-user", "email:info@shop.example"]))
    from functions.collector import handler

    handler._app.cache_clear()
    for n in range(2):
        body = {"userId": "Guest-User", "anonymousId": f"d-{n}",
                "traits": {"email": "info@shop.example"}}  # fmt: skip
        assert send(collector, "/v1/identify", body)["statusCode"] == 200
    pipeline()
    first, second = (profile(profile_api, f"anonymous_id:d-{n}") for n in range(2))
    assert first["profile_id"] != second["profile_id"]
    assert {i["type"] for i in first["ignored_identities"]} == {"user_id", "email"}
