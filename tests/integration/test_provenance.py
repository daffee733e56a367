"""Provenance is earned: what a person declared (forms, preference center) cannot be
overwritten by anyone holding a public write key who claims `declared`; only a back-end source
configured to declare may, and systems of record may say `imported`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]
FORM = {
    "id": "household",
    "name": "Household",
    "fields": [{"trait": "children", "label": "Children?", "type": "number", "purpose": "x"}],
}


def identify(collector: Handler, key: str, traits: dict[str, Any], provenance: str) -> Any:
    body = {"userId": "ada", "traits": traits, "context": {"cdp": {"provenance": provenance}}}
    answer = collector(http_event(path="/v1/identify", body=body, headers=basic_auth(key)))
    assert answer["statusCode"] == 200, answer["body"]
    return answer_json(answer)


def source_key(admin_api: Handler, **source: Any) -> str:
    answer = admin_api(http_event("POST", "/v1/sources", body=source, headers=bearer()))
    assert answer["statusCode"] in (200, 201), answer["body"]
    key: str = answer_json(answer)["write_key"]
    return key


def trait(profile_api: Handler, name: str) -> tuple[Any, str]:
    answer = answer_json(
        profile_api(http_event("GET", "/v1/profiles/user_id:ada", headers=bearer()))
    )
    return answer["traits"].get(name), answer["trait_sources"].get(name, {}).get("kind")


def test_a_public_write_key_cannot_overwrite_what_the_person_declared(
    admin_api: Handler,
    forms_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    profile_api: Handler,
) -> None:
    from cdp.intake.verification import sign
    from tests.conftest import IDENTITY_SECRET

    admin_api(http_event("PUT", "/v1/forms/household", body=FORM, headers=bearer()))
    # given a person who answered a form: two children
    body = {"userId": "ada", "signature": sign("ada", IDENTITY_SECRET), "answers": {"children": 2}}
    answer = forms_api(
        http_event(
            "POST", "/v1/forms/household/submissions", body=body, headers=basic_auth(WRITE_KEY)
        )
    )
    assert answer["statusCode"] == 200, answer["body"]
    pipeline()
    assert trait(profile_api, "children") == (2, "declared")
    # when the website's public key claims a declared answer of its own
    answer = identify(collector, WRITE_KEY, {"children": 7}, "declared")
    pipeline()
    # then it is stored as observed, said so in the answer, and the declaration stands
    assert answer["provenance_refused"] == 1
    assert trait(profile_api, "children") == (2, "declared")


@pytest.mark.parametrize(
    ("source", "claim", "kind"),
    [
        ({"kind": "website"}, "imported", "observed"),
        ({"kind": "crm"}, "imported", "imported"),
        ({"kind": "crm"}, "declared", "observed"),
        ({"kind": "server", "declares": True}, "declared", "declared"),
        ({"kind": "other"}, "anything", "observed"),
    ],
)
def test_each_source_may_claim_what_it_is_trusted_with(
    source: dict[str, Any],
    claim: str,
    kind: str,
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    profile_api: Handler,
) -> None:
    key = source_key(admin_api, name="sender", **source)
    identify(collector, key, {"plan": "pro"}, claim)
    pipeline()
    assert trait(profile_api, "plan") == ("pro", kind)


def test_a_website_or_app_cannot_be_made_to_declare(admin_api: Handler) -> None:
    for kind in ("website", "app"):
        body = {"name": f"my-{kind}", "kind": kind, "declares": True}
        answer = admin_api(http_event("POST", "/v1/sources", body=body, headers=bearer()))
        assert answer["statusCode"] == 400
        assert "public" in answer_json(answer)["message"]
