from __future__ import annotations

import pytest

from cdp.profiles.identity import identities_of, normalise_email, parse_identity


def test_a_message_carries_its_ids_strongest_first() -> None:
    message = {
        "type": "identify",
        "anonymousId": "anon-1",
        "userId": "42",
        "traits": {"email": "  Ada@Example.COM "},
        "context": {"externalIds": [{"id": 77, "type": "crm_id"}, {"id": "x", "type": "user_id"}]},
    }
    assert identities_of(message).keys == (
        "user_id:42",
        "email:ada@example.com",
        "crm_id:77",
        "anonymous_id:anon-1",
    )


def test_track_calls_link_the_email_in_context_traits() -> None:
    message = {"type": "track", "anonymousId": "a", "context": {"traits": {"email": "b@c.de"}}}
    assert "email:b@c.de" in identities_of(message).keys


def test_traits_of_a_track_call_are_not_identities() -> None:
    message = {"type": "track", "anonymousId": "a", "traits": {"email": "b@c.de"}}
    assert identities_of(message).keys == ("anonymous_id:a",)


def test_alias_keeps_the_previous_id_apart() -> None:
    carried = identities_of({"type": "alias", "userId": "new", "previousId": "old"})
    assert carried.keys == ("user_id:new",)
    assert carried.previous_id == "old"


@pytest.mark.parametrize(
    "value", ["not-an-email", "a@b", "@b.c", 12, None, "a b@c.de", "x" * 300 + "@a.de"]
)
def test_things_that_are_not_emails_are_not_email_identities(value: object) -> None:
    assert normalise_email(value) is None


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("user_id:42", ("user_id", "42")),
        ("user_id:a:b", ("user_id", "a:b")),
        ("email:ADA@example.com", ("email", "ada@example.com")),
        ("anonymous_id:abc", ("anonymous_id", "abc")),
        ("ga_client_id:123.456", ("ga_client_id", "123.456")),
        ("user_id:", None),
        ("42", None),
        ("email:nope", None),
        ("Bad Type:1", None),
    ],
)
def test_parse_identity(text: str, parsed: tuple[str, str] | None) -> None:
    assert parse_identity(text) == parsed
