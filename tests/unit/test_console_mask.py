"""What a viewer sees (`cdp.console.mask`): over random profiles and events, no identifier and
no value masking covers appears anywhere in the masked answer, and what must stay readable
(counts, times, segments, consent, event names) is unchanged.

The random personal values each hold a letter that nothing the platform writes contains (`é`,
`ø`...; times, ids, names and keys are ASCII), so that finding one in a masked answer can only
mean masking let it through, never that a time or a key happened to spell it."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.console.mask import (
    MIN_NEEDLE,
    mask_identifier,
    masked_event,
    masked_sheet,
    personal_name,
)
from cdp.console.sheet import profile_sheet
from cdp.profiles.computed import load_definitions
from cdp.profiles.profile import Profile
from cdp.profiles.traits import TraitValue
from cdp.runtime.clock import iso
from cdp.segments.conditions import SegmentDefinition, compile_segments

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
TIMES = [iso(NOW - timedelta(days=days, hours=hours)) for days in (0, 3, 40) for hours in (1, 5)]
DEFINITIONS = load_definitions([])
SEGMENTS = compile_segments(
    [
        SegmentDefinition(
            id="reachable", name="Reachable", condition={"identity": "email", "exists": True}
        ),
        SegmentDefinition(
            id="named", name="Named", condition={"trait": "first_name", "exists": True}
        ),
        SegmentDefinition(
            id="delft",
            name="In Delft",
            condition={
                "any": [
                    {"trait": "city", "contains": "é"},
                    {"trait": "plan", "prefix": "p"},
                    {"trait": "note", "exists": True},
                ]
            },
        ),
        SegmentDefinition(
            id="busy",
            name="Busy",
            condition={"profile": "event_count", "gte": 3},
            purpose="analytics",
        ),
    ]
)
SEGMENT_IDS = [segment.id for segment in SEGMENTS]

MARKERS = "åéîøüñçæ"
PLAIN = string.ascii_letters + string.digits + "._-+"
# Names the rule must take as personal, and names that are not (a value under them stays
# readable unless it gives a personal value away)
PERSONAL = ("email", "phone", "first_name", "lastName", "address", "birthday", "city", "name")
OTHER = ("plan", "score", "note", "favorite_colour", "tags")


def marked(plain: str = PLAIN, min_size: int = 1) -> st.SearchStrategy[str]:
    """Text with a marker letter in it, at least three characters."""
    part = st.text(plain, min_size=min_size, max_size=8)
    return st.builds(lambda a, m, b: a + m + b, part, st.sampled_from(MARKERS), part)


texts = st.one_of(marked(), marked(PLAIN + " @"))
emails = st.builds(
    lambda local, domain, top: f"{local}@{domain}.{top}",
    marked(),
    marked(string.ascii_lowercase + "-"),
    st.sampled_from(["com", "nl", "org", "io", "museum"]),
)
phones = st.builds(lambda number: "+31 " + number, marked(string.digits))
identity_values = {
    "user_id": st.one_of(texts, emails),
    "anonymous_id": texts,
    "email": emails,
    "phone": phones,
    "crm_id": texts,
}


@st.composite
def identity_keys(draw: st.DrawFn) -> list[str]:
    kinds = draw(st.lists(st.sampled_from(sorted(identity_values)), min_size=1, max_size=6))
    return sorted({f"{kind}:{draw(identity_values[kind])}" for kind in kinds})


def trait_values(identities: list[str]) -> st.SearchStrategy[Any]:
    mine = st.sampled_from([key.partition(":")[2] for key in identities])
    return st.one_of(
        texts,
        emails,
        phones,
        st.integers(-5, 5000),
        st.booleans(),
        st.none(),
        st.lists(texts, max_size=3),
        st.fixed_dictionaries({"street": texts, "city": texts}),
        mine,  # a trait that holds an identifier
        st.builds(lambda value: f"signed up as {value}!", mine),
    )


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    keys = draw(identity_keys())
    names = st.one_of(st.sampled_from(PERSONAL + OTHER), st.from_regex(r"\A[a-z][a-z_]{2,10}\Z"))
    traits: dict[str, dict[str, TraitValue]] = {}
    for n, name in enumerate(draw(st.lists(names, max_size=8, unique=True))):
        kinds = draw(
            st.lists(st.sampled_from(["declared", "imported", "observed"]), min_size=1, unique=True)
        )
        traits[name] = {
            kind: TraitValue(
                value=draw(trait_values(keys)),
                source=draw(st.sampled_from(["web", "crm"])),
                at=draw(st.sampled_from(TIMES)),
                message_id=f"m-{n}-{kind}",
                expires_at=draw(st.one_of(st.none(), st.sampled_from(TIMES))),
            )
            for kind in kinds
        }
    some_keys = st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)
    merges = [
        {
            "at": draw(st.sampled_from(TIMES)),
            "profile_id": f"p{n}",
            "identities": sorted(chosen),
            "message_id": f"m-merge-{n}",
            "event_time": TIMES[0],
            "filed_under": draw(st.sampled_from(keys)),
        }
        for n, chosen in enumerate(draw(st.lists(some_keys, max_size=3)))
    ]
    unmerges = [
        {"at": TIMES[1], "profile_id": "p-split", "identities_moved": 1},
        {"at": TIMES[0], "split_from": "p-old", "identities": draw(some_keys)},
    ][: draw(st.integers(0, 2))]
    conflicts = [
        {
            "at": TIMES[2],
            "identity": key,
            "refused": "anonymous_id",
            "reason": "different user_ids",
            "message_id": "m-conflict",
        }
        for key in draw(st.lists(st.sampled_from(keys), max_size=2, unique=True))
    ]
    decisions = [
        {
            "purpose": purpose,
            "state": draw(st.sampled_from(["granted", "denied"])),
            "at": at,
            "source": "web",
            "message_id": f"m-consent-{n}",
            "version": "v1",
        }
        for n, (purpose, at) in enumerate(
            draw(
                st.lists(
                    st.tuples(st.sampled_from(["analytics", "marketing"]), st.sampled_from(TIMES)),
                    max_size=4,
                )
            )
        )
    ]
    return Profile(
        profile_id="0123abcd",
        created_at=TIMES[-1],
        identities={key: draw(st.sampled_from(TIMES)) for key in keys},
        traits=traits,
        first_seen=TIMES[-1],
        last_seen=TIMES[0],
        event_count=draw(st.integers(0, 1000)),
        ignored={f"user_id:{value}": TIMES[3] for value in draw(st.lists(texts, max_size=2))},
        consent={
            decision["purpose"]: {k: v for k, v in decision.items() if k != "purpose"}
            for decision in decisions
        },
        consent_history=decisions,
        merges=merges,
        unmerges=unmerges,
        conflicts=conflicts,
        segments={
            segment_id: draw(st.sampled_from(TIMES))
            for segment_id in draw(st.lists(st.sampled_from(SEGMENT_IDS), unique=True))
        },
    )


def leaves(value: Any) -> list[str]:
    """Every text in a value (lists and objects walked)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in leaves(item)]
    if isinstance(value, list):
        return [text for item in value for text in leaves(item)]
    return []


def looks_like_an_email(text: str) -> bool:
    """Something before the `@`, and a domain with a dot between two names after it (`@å.`,
    which Hypothesis once drew, is not an address)."""
    local, at, domain = text.rpartition("@")
    return bool(at and local.strip() and "." in domain.strip().strip("."))


def shown(secrets: set[str], answer: Any) -> set[str]:
    """The secrets that appear in the JSON text of an answer, of those masking looks for
    elsewhere (3 characters or more, leading and trailing spaces aside: `MIN_NEEDLE`)."""
    documents = [json.dumps(answer), json.dumps(answer, ensure_ascii=False)]
    found = set()
    for secret in secrets:
        if not _too_short(secret) and any(
            json.dumps(secret, ensure_ascii=ascii_only)[1:-1] in document
            for ascii_only, document in zip((True, False), documents, strict=True)
        ):
            found.add(secret)
    return found


def _too_short(secret: str) -> bool:
    return len(secret.strip()) < MIN_NEEDLE


def secrets_of(profile: Profile) -> set[str]:
    """What masking must hide: every identifier, every value of a declared or personal trait,
    and every e-mail address in any trait."""
    secrets = {key.partition(":")[2] for key in (*profile.identities, *profile.ignored)}
    for name, by_kind in profile.traits.items():
        personal = "declared" in by_kind or name in PERSONAL
        for value in by_kind.values():
            secrets.update(
                text for text in leaves(value.value) if personal or looks_like_an_email(text)
            )
    return secrets


@settings(max_examples=200, deadline=None)
@given(profile=profiles())
def test_a_masked_sheet_shows_no_identifier_and_no_personal_value(profile: Profile) -> None:
    sheet = profile_sheet(profile, definitions=DEFINITIONS, segments=SEGMENTS, now=NOW)
    secrets = secrets_of(profile)
    assert secrets <= shown(secrets, sheet) | {s for s in secrets if _too_short(s)}  # they're there

    masked = masked_sheet(sheet)

    assert shown(secrets, masked) == set()
    assert masked["masked"] is True


def readable_parts(sheet: dict[str, Any]) -> dict[str, Any]:
    return {
        "counts_and_times": [
            sheet[field]
            for field in (
                "profile_id",
                "as_of",
                "created_at",
                "first_seen",
                "last_seen",
                "event_count",
            )
        ],
        "identity_kinds": [(i["type"], i["linked_at"], i["via"]) for i in sheet["identities"]],
        "traits": {
            kind: {
                name: (
                    entry["set_at"],
                    entry["expires_at"],
                    entry["expired"],
                    entry["counts"],
                    entry["source"],
                )
                for name, entry in group.items()
            }
            for kind, group in sheet["traits"].items()
        },
        "computed": sheet["computed"],
        "segments": [
            (
                s["id"],
                s["name"],
                s["since"],
                s["explanation"]
                and (s["explanation"]["member"], s["explanation"]["condition"]["holds"]),
            )
            for s in sheet["segments"]
        ],
        "consent": sheet["consent"],
        "merges": [(m["at"], m["profile_id"], m["message_id"]) for m in sheet["merges"]],
        "unmerges": [
            (u["at"], u.get("profile_id"), u.get("split_from")) for u in sheet["unmerges"]
        ],
        "conflicts": [(c["at"], c["refused"], c["reason"]) for c in sheet["conflicts"]],
    }


@settings(max_examples=100, deadline=None)
@given(profile=profiles())
def test_a_masked_sheet_keeps_counts_times_segments_and_consent(profile: Profile) -> None:
    sheet = profile_sheet(profile, definitions=DEFINITIONS, segments=SEGMENTS, now=NOW)
    before = json.dumps(sheet, sort_keys=True)

    masked = masked_sheet(sheet)

    assert readable_parts(masked) == readable_parts(sheet)
    assert json.dumps(sheet, sort_keys=True) == before  # the sheet itself is left as it was


EVENT_NAMES = ("Order Completed", "Signed Up", "Product Viewed")


@st.composite
def events(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A stored message with identities and personal data in many places, and those values."""
    secrets: set[str] = set()

    def secret(strategy: st.SearchStrategy[Any]) -> Any:
        value = draw(strategy)
        secrets.update(leaves(value))
        return value

    def maybe(strategy: st.SearchStrategy[Any]) -> dict[str, Any]:
        return {"v": secret(strategy)} if draw(st.booleans()) else {}

    user_id = maybe(st.one_of(texts, emails))
    email = secret(emails)
    first_name = secret(texts)
    kind = draw(st.sampled_from(["track", "identify", "page", "alias", "group"]))
    message: dict[str, Any] = {
        "type": kind,
        "messageId": "m-1",
        "timestamp": TIMES[0],
        "receivedAt": TIMES[1],
        **({"event": draw(st.sampled_from(EVENT_NAMES))} if kind == "track" else {}),
        **({"userId": user_id["v"]} if user_id else {}),
        "anonymousId": secret(texts),
        **({"previousId": secret(texts)} if kind == "alias" else {}),
        "traits": {
            "email": email,
            "first_name": first_name,
            **{
                name: secret(st.one_of(texts, st.integers(), st.none()))
                for name in draw(st.lists(st.sampled_from(OTHER), unique=True))
            },
        },
        "context": {
            "ip": secret(texts),
            "traits": {"phone": secret(phones), "name": secret(texts)},
            "externalIds": [{"type": "crm", "id": secret(texts), "collection": "users"}],
            "cdp": {"provenance": "observed", "ignored_identities": [f"user_id:{secret(texts)}"]},
            "device": {"id": secret(texts), "advertisingId": secret(texts), "type": "ios"},
            "location": {"city": secret(texts), "latitude": 52.0},
            "page": {
                "url": f"https://shop.example/welcome?e={quote(email)}",
                "title": f"Hello {first_name}",
                "path": "/welcome",
            },
            "consent": {"categoryPreferences": {"analytics": draw(st.booleans())}},
            "library": {"name": "analytics.js", "version": "2.1"},
        },
        "properties": {
            "revenue": draw(st.integers(0, 500)),
            "email": secret(emails),
            "shipping": {"street": secret(texts), "postalCode": secret(texts)},
            "homePhone": secret(phones),
            "comment": f"ordered by {user_id.get('v', first_name)}",
            "category": draw(st.sampled_from(["shoes", "hats"])),
        },
    }
    secrets.add(quote(email))
    return message, secrets


@settings(max_examples=200, deadline=None)
@given(drawn=events())
def test_a_masked_event_shows_no_identifier_and_no_personal_value(
    drawn: tuple[dict[str, Any], set[str]],
) -> None:
    message, secrets = drawn
    assert secrets - {s for s in secrets if _too_short(s)} <= shown(secrets, message)
    before = json.dumps(message, sort_keys=True)

    masked = masked_event(message)

    assert shown(secrets, masked) == set()
    # what happened, when, and the consent given stay as they were
    for field in ("type", "event", "messageId", "timestamp", "receivedAt"):
        assert masked.get(field) == message.get(field)
    assert masked["properties"]["revenue"] == message["properties"]["revenue"]
    assert masked["properties"]["category"] == message["properties"]["category"]
    assert masked["context"]["consent"] == message["context"]["consent"]
    assert masked["context"]["library"] == message["context"]["library"]
    assert masked["context"]["externalIds"][0]["type"] == "crm"
    assert set(masked["traits"]) == set(message["traits"])  # the names stay
    assert json.dumps(message, sort_keys=True) == before


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("ada@example.com", "a•••@e•••.com"),
        ("Ada.Lovelace@mail.example.nl", "A•••@m•••.nl"),
        ("al@x.io", "•••@•••.io"),  # parts too short to show a letter of
        ("ada@example.verylongtld", "a•••@e•••.•••"),
        ("user-4217", "•••7"),
        ("+31 6 1234 5678", "•••8"),
        ("abc", "•••"),
        ("", "•••"),
    ],
)
def test_a_masked_identifier_keeps_its_kind_and_at_most_a_letter_or_two(
    value: str, masked: str
) -> None:
    assert mask_identifier(value) == masked


@pytest.mark.parametrize(
    "name",
    [
        "email",
        "Email",
        "emailAddress",
        "e_mail",
        "mail",
        "phone",
        "homePhone",
        "mobile",
        "first_name",
        "firstName",
        "lastname",
        "name",
        "full-name",
        "username",
        "address",
        "street",
        "postal_code",
        "zip",
        "city",
        "country",
        "birthday",
        "date_of_birth",
        "dob",
        "age",
        "gender",
        "ip",
        "ipAddress",
        "iban",
        "latitude",
        "avatar",
    ],
)
def test_names_of_personal_data_are_personal(name: str) -> None:
    assert personal_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "plan",
        "page_views",
        "usage",
        "language",
        "orders_30d",
        "revenue",
        "favorite_category",
        "days_since_last_seen",
        "tags",
        "score",
        "company_size",
        "moving",
    ],
)
def test_other_names_are_not(name: str) -> None:
    assert not personal_name(name)


def test_counts_and_plain_traits_stay_readable_and_declared_ones_do_not() -> None:
    profile = Profile(
        profile_id="p",
        created_at=TIMES[-1],
        identities={"user_id:ada-42": TIMES[-1]},
        traits={
            "plan": {"observed": TraitValue("pro", "web", TIMES[1], "m-1")},
            "moving": {"declared": TraitValue(True, "forms", TIMES[1], "m-2")},
            "city": {"observed": TraitValue("Delft", "web", TIMES[1], "m-1")},
            "motto": {"observed": TraitValue("I am ada-42", "web", TIMES[1], "m-1")},
        },
        event_count=12,
        segments={"busy": TIMES[0]},
    )
    sheet = profile_sheet(profile, definitions=DEFINITIONS, segments=SEGMENTS, now=NOW)

    masked = masked_sheet(sheet)

    values = {
        name: entry["value"] for group in masked["traits"].values() for name, entry in group.items()
    }
    assert values == {"plan": "pro", "moving": "•••", "city": "•••t", "motto": "•••2"}
    assert masked["identities"][0]["value"] == "•••2"
    assert masked["event_count"] == 12
    assert masked["computed"] == sheet["computed"]
    assert masked["segments"][0]["explanation"]["condition"]["actual"] == 12


def test_a_name_a_sender_chose_is_masked_when_it_gives_a_person_away() -> None:
    # trait and property names are the sender's: one may be an address
    profile = Profile(
        profile_id="p",
        created_at=TIMES[-1],
        identities={"email:ada@example.com": TIMES[-1]},
        traits={"ada@example.com": {"observed": TraitValue(1, "web", TIMES[1], "m-1")}},
    )
    sheet = profile_sheet(profile, definitions=DEFINITIONS, segments=(), now=NOW)
    message = {
        "type": "track",
        "event": "Shared",
        "userId": "ada-42",
        "properties": {"friends": {"grace@example.com": True, "ada-42": 1}},
    }

    masked = json.dumps([masked_sheet(sheet), masked_event(message)])

    assert shown({"ada@example.com", "grace@example.com", "ada-42"}, masked) == set()
    assert "friends" in masked
