"""Zero-party data and privacy on moto, through the deployed handlers: forms, the preference
center, consent enforcement, export and erasure."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

from cdp.intake.verification import sign
from cdp.runtime import clock
from cdp.runtime.settings import EVENT_HOT_DAYS
from tests.conftest import IDENTITY_SECRET
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]

HOUSEHOLD = {
    "id": "household",
    "name": "About your household",
    "consent_purposes": ["personalization", "marketing"],
    "consent_text": "We use your answers to tailor offers to you.",
    "consent_version": "2026-11",
    "fields": [
        {
            "trait": "moving_soon",
            "label": "Moving in the next six months?",
            "type": "boolean",
            "purpose": "So we can offer moving insurance at the right time",
            "valid_days": 180,
        },
        {
            "trait": "children",
            "label": "How many children live with you?",
            "type": "number",
            "purpose": "For family offers",
        },
        {
            "trait": "home",
            "label": "Do you own or rent your home?",
            "type": "select",
            "options": ["own", "rent"],
            "purpose": "For mortgage and rental offers",
        },
        {
            "trait": "email_optin",
            "label": "Your e-mail",
            "type": "email",
            "required": True,
            "purpose": "To send you the offers you ask for",
        },
    ],
}


@pytest.fixture(autouse=True)
def _sweep_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # (possible because no function here caches its check of erased people)
    monkeypatch.setenv("SUPPRESSION_CACHE_SECONDS", "0")
    monkeypatch.setenv("ERASURE_SWEEP_DELAY_SECONDS", "0")


@pytest.fixture
def form(admin_api: Handler) -> dict[str, Any]:
    answer = admin_api(http_event("PUT", "/v1/forms/household", body=HOUSEHOLD, headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    return HOUSEHOLD


def next_questions(forms_api: Handler, **who: str) -> dict[str, Any]:
    answer = forms_api(
        http_event("GET", "/v1/forms/household/next", query={"writeKey": WRITE_KEY, **who})
    )
    assert answer["statusCode"] == 200, answer["body"]
    return answer_json(answer)


def submit(forms_api: Handler, body: dict[str, Any]) -> dict[str, Any]:
    return forms_api(
        http_event(
            "POST",
            "/v1/forms/household/submissions",
            body=json.dumps({"writeKey": WRITE_KEY, **body}),
            headers={"content-type": "text/plain"},
        )
    )


def profile_of(profile_api: Handler, identity: str) -> dict[str, Any]:
    answer = profile_api(http_event("GET", f"/v1/profiles/{identity}", headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    return answer_json(answer)


# --- forms ---------------------------------------------------------------------------------


def test_a_form_asks_two_questions_at_a_time_with_their_purpose(
    form: dict[str, Any], forms_api: Handler, pipeline: Callable[[], None], profile_api: Handler
) -> None:
    # given a visitor nobody knows yet
    first = next_questions(forms_api, anonymousId="visitor-1")
    assert [q["trait"] for q in first["questions"]] == ["moving_soon", "children"]
    assert first["questions"][0]["purpose"] == "So we can offer moving insurance at the right time"
    assert first["remaining"] == 4
    assert first["consent"]["text"] == HOUSEHOLD["consent_text"]

    # when they answer those two and give consent for personalization only
    answer = submit(
        forms_api,
        {
            "anonymousId": "visitor-1",
            "answers": {"moving_soon": True, "children": 2},
            "consent": {"personalization": True, "marketing": False},
            "submissionId": "submission-0001",
        },
    )
    assert answer["statusCode"] == 200, answer["body"]
    assert [q["trait"] for q in answer_json(answer)["next"]] == ["home", "email_optin"]
    pipeline()

    # then the answers are declared traits, with expiry where the form says so, and consent
    profile = profile_of(profile_api, "anonymous_id:visitor-1")
    assert profile["traits"] == {"moving_soon": True, "children": 2}
    moving = profile["trait_sources"]["moving_soon"]
    assert moving["kind"] == "declared"
    assert moving["expires_at"] is not None
    assert profile["trait_sources"]["children"]["expires_at"] is None
    assert profile["consent"]["personalization"]["state"] == "granted"
    assert profile["consent"]["personalization"]["version"] == "2026-11"
    assert profile["consent"]["marketing"]["state"] == "denied"
    assert profile["computed"]  # the Form Submitted event went through the pipeline too
    assert [
        q["trait"] for q in next_questions(forms_api, anonymousId="visitor-1")["questions"]
    ] == [
        "home",
        "email_optin",
    ]

    # and when the short-lived answer expires, the question comes back
    clock.advance(timedelta(days=181))
    again = next_questions(forms_api, anonymousId="visitor-1")
    assert [q["trait"] for q in again["questions"]] == ["moving_soon", "home"]


def test_a_retried_submission_is_stored_once(
    form: dict[str, Any], forms_api: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    body = {
        "anonymousId": "v2",
        "answers": {"children": 1},
        "submissionId": "retry-me-please",
        "timestamp": clock.iso(clock.utc_now()),
    }
    for _ in range(3):
        assert submit(forms_api, body)["statusCode"] == 200
    items = dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"]
    assert len(items) == 2  # the declared answers and the Form Submitted event, once each


@pytest.mark.parametrize(
    ("answers", "fields"),
    [
        ({"children": "two"}, {"children": "must be a number"}),
        ({"home": "castle"}, {"home": "must be one of own, rent"}),
        ({"moving_soon": "yes"}, {"moving_soon": "must be true or false"}),
        ({"email_optin": "not-an-address"}, {"email_optin": "must be an e-mail address"}),
        ({"email_optin": ""}, {"email_optin": "is required"}),
        ({"shoe_size": 44}, {"shoe_size": "is not a question of this form"}),
    ],
)
def test_each_wrong_answer_gets_its_own_message(
    form: dict[str, Any],
    forms_api: Handler,
    dynamodb: Any,
    table_names: dict[str, str],
    answers: dict[str, Any],
    fields: dict[str, str],
) -> None:
    answer = submit(forms_api, {"anonymousId": "v3", "answers": answers})
    assert answer["statusCode"] == 400
    assert answer_json(answer)["fields"] == fields
    assert dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"] == []


def test_consent_a_form_does_not_ask_for_is_refused(
    form: dict[str, Any], forms_api: Handler
) -> None:
    answer = submit(
        forms_api,
        {
            "anonymousId": "v4",
            "answers": {"children": 1},
            "consent": {"sharing": True, "bogus": True},
        },
    )
    assert answer["statusCode"] == 400
    assert answer_json(answer)["fields"] == {
        "consent.bogus": "is not a purpose of this deployment",
        "consent.sharing": "is not asked by this form",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"consent_purposes": ["spying"]}, "'spying' is not a purpose"),
        (
            {"fields": [{"trait": "home", "label": "x", "type": "select", "purpose": "y"}]},
            "needs options",
        ),
        (
            {
                "fields": [
                    {"trait": "a", "label": "x", "purpose": "y"},
                    {"trait": "a", "label": "x", "purpose": "y"},
                ]
            },
            "asked once per form",
        ),
        ({"fields": []}, "fields"),
    ],
)
def test_bad_forms_are_refused(admin_api: Handler, change: dict[str, Any], message: str) -> None:
    answer = admin_api(
        http_event("PUT", "/v1/forms/household", body={**HOUSEHOLD, **change}, headers=bearer())
    )
    assert answer["statusCode"] == 400
    assert message in answer_json(answer)["message"]


def test_a_trait_is_asked_the_same_way_in_every_form(
    form: dict[str, Any], admin_api: Handler
) -> None:
    other = {
        "id": "kids",
        "name": "Kids",
        "fields": [
            {
                "trait": "children",
                "label": "Children?",
                "type": "boolean",
                "purpose": "Family offers",
            }
        ],
    }
    answer = admin_api(http_event("PUT", "/v1/forms/kids", body=other, headers=bearer()))
    assert answer["statusCode"] == 400
    assert "'children' is a number in form 'household'" in answer_json(answer)["message"]


# --- preference center ---------------------------------------------------------------------


def preferences(forms_api: Handler, **who: str) -> Any:
    return forms_api(http_event("GET", "/v1/preferences", query={"writeKey": WRITE_KEY, **who}))


def change(forms_api: Handler, body: dict[str, Any]) -> Any:
    return forms_api(http_event("PUT", "/v1/preferences", body={"writeKey": WRITE_KEY, **body}))


def test_a_signed_in_person_sees_and_changes_their_preferences(
    form: dict[str, Any], forms_api: Handler, pipeline: Callable[[], None]
) -> None:
    signature = sign("user-1", IDENTITY_SECRET)
    assert (
        submit(
            forms_api,
            {
                "userId": "user-1",
                "signature": signature,
                "answers": {"home": "rent", "email_optin": "u1@example.com"},
            },
        )["statusCode"]
        == 200
    )
    pipeline()

    seen = answer_json(preferences(forms_api, userId="user-1", signature=signature))
    assert seen["preferences"]["home"]["value"] == "rent"
    assert seen["preferences"]["home"]["label"] == "Do you own or rent your home?"

    changed = change(
        forms_api,
        {
            "userId": "user-1",
            "signature": signature,
            "preferences": {"home": "own"},
            "consent": {"marketing": True},
        },
    )
    assert changed["statusCode"] == 200, changed["body"]
    pipeline()
    seen = answer_json(preferences(forms_api, userId="user-1", signature=signature))
    assert seen["preferences"]["home"]["value"] == "own"
    assert seen["consent"]["marketing"]["state"] == "granted"


@pytest.mark.parametrize(
    "signature", [None, "", "0" * 64, sign("user-2", IDENTITY_SECRET), sign("user-1", "guess")]
)
def test_nobody_reads_or_changes_another_persons_preferences(
    form: dict[str, Any], forms_api: Handler, pipeline: Callable[[], None], signature: str | None
) -> None:
    # given user-1 told us where they live
    submit(
        forms_api,
        {
            "userId": "user-1",
            "signature": sign("user-1", IDENTITY_SECRET),
            "answers": {"home": "rent", "email_optin": "u1@example.com"},
        },
    )
    pipeline()
    who = {"userId": "user-1", **({"signature": signature} if signature is not None else {})}

    # when someone without user-1's signature asks, or tries to change it
    read = preferences(forms_api, **who)
    write = change(forms_api, {**who, "preferences": {"home": "own"}})

    # then both are refused, and nothing changed
    assert read["statusCode"] == 403
    assert write["statusCode"] == 403
    assert "rent" not in read["body"]
    pipeline()
    real = answer_json(
        preferences(forms_api, userId="user-1", signature=sign("user-1", IDENTITY_SECRET))
    )
    assert real["preferences"]["home"]["value"] == "rent"


def test_an_anonymous_visitor_reaches_only_their_own_anonymous_profile(
    form: dict[str, Any], forms_api: Handler, collector: Handler, pipeline: Callable[[], None]
) -> None:
    # given a browser that signed in once (its anonymous id belongs to a known person)
    collector(
        http_event(
            path="/v1/identify",
            headers=basic_auth(WRITE_KEY),
            body={
                "anonymousId": "shared-browser",
                "userId": "user-9",
                "traits": {"email": "nine@example.com"},
            },
        )
    )
    submit(forms_api, {"anonymousId": "fresh-browser", "answers": {"children": 3}})
    pipeline()

    # the fresh browser sees its own answers
    own = answer_json(preferences(forms_api, anonymousId="fresh-browser"))
    assert own["preferences"]["children"]["value"] == 3

    # the shared browser sees no personal data and cannot change it, but can change consent
    shared = answer_json(preferences(forms_api, anonymousId="shared-browser"))
    assert shared["sign_in_required"] is True
    assert "preferences" not in shared
    assert "nine@example.com" not in json.dumps(shared)
    assert (
        change(forms_api, {"anonymousId": "shared-browser", "preferences": {"children": 1}})[
            "statusCode"
        ]
        == 403
    )
    assert (
        change(forms_api, {"anonymousId": "shared-browser", "consent": {"marketing": False}})[
            "statusCode"
        ]
        == 200
    )


# --- consent ---------------------------------------------------------------------------------


@pytest.fixture
def consent_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_REQUIRED", "true")


def track(collector: Handler, consent: dict[str, bool] | None, **extra: Any) -> Any:
    context = {"consent": {"categoryPreferences": consent}} if consent is not None else {}
    body = {
        "anonymousId": "browser-7",
        "event": "Viewed Pricing",
        "properties": {"plan": "pro"},
        "context": {**context, "page": {"url": "https://shop.example/pricing"}},
        **extra,
    }
    return collector(http_event(path="/v1/track", body=body, headers=basic_auth(WRITE_KEY)))


def stored(dynamodb: Any, table_names: dict[str, str]) -> list[dict[str, Any]]:
    from cdp.runtime.codec import decompress

    return [
        decompress(i["body"]["B"])
        for i in dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"]
    ]


def test_without_analytics_consent_nothing_is_stored_but_the_decision(
    consent_required: None, collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    silent = track(collector, None)
    denied = track(collector, {"analytics": False, "marketing": False})
    granted = track(collector, {"analytics": True})

    assert answer_json(silent) == {"success": True, "not_stored": 1}
    assert answer_json(denied) == {"success": True}
    assert answer_json(granted) == {"success": True}
    messages = sorted(stored(dynamodb, table_names), key=lambda m: "properties" in m)
    assert len(messages) == 2
    decision, full = messages
    assert decision["context"] == {
        "consent": {"categoryPreferences": {"analytics": False, "marketing": False}}
    }
    assert "properties" not in decision
    assert full["properties"] == {"plan": "pro"}
    assert full["context"]["page"]["url"] == "https://shop.example/pricing"


def test_revoking_consent_takes_a_person_out_of_segments_that_need_it(
    admin_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    bus: Callable[[], list[dict[str, Any]]],
    profile_api: Handler,
) -> None:
    segment = {
        "id": "pricing-fans",
        "name": "Looked at pricing",
        "purpose": "marketing",
        "condition": {"profile": "event_count", "gte": 1},
    }
    assert (
        admin_api(http_event("PUT", "/v1/segments/pricing-fans", body=segment, headers=bearer()))[
            "statusCode"
        ]
        == 200
    )
    track(collector, {"analytics": True, "marketing": True})
    pipeline()
    assert profile_of(profile_api, "anonymous_id:browser-7")["segments"] == ["pricing-fans"]
    assert [e["detail-type"] for e in bus() if e["detail-type"].startswith("segment")] == [
        "segment.entered"
    ]

    track(
        collector,
        {"analytics": True, "marketing": False},
        messageId="revocation",
        timestamp=clock.iso(clock.utc_now() + timedelta(seconds=1)),
    )
    pipeline()

    assert profile_of(profile_api, "anonymous_id:browser-7")["segments"] == []
    assert [e["detail-type"] for e in bus() if e["detail-type"].startswith("segment")] == [
        "segment.exited"
    ]


# --- export and erasure --------------------------------------------------------------------


def test_export_holds_everything(
    form: dict[str, Any],
    forms_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    privacy_api: Handler,
) -> None:
    collector(
        http_event(
            path="/v1/identify",
            headers=basic_auth(WRITE_KEY),
            body={
                "anonymousId": "a-1",
                "userId": "u-1",
                "traits": {"email": "u1@example.com"},
                "context": {
                    "consent": {"categoryPreferences": {"analytics": True}, "version": "v3"}
                },
            },
        )
    )
    collector(
        http_event(
            path="/v1/page",
            headers=basic_auth(WRITE_KEY),
            body={"anonymousId": "a-1", "name": "Home"},
        )
    )
    submit(forms_api, {"anonymousId": "a-1", "answers": {"children": 2}})
    pipeline()

    answer = privacy_api(http_event("GET", "/v1/profiles/user_id:u-1/export", headers=bearer()))

    assert answer["statusCode"] == 200, answer["body"]
    document = answer_json(answer)
    assert document["profile"]["traits"]["email"] == "u1@example.com"
    assert document["trait_values"]["children"]["declared"]["value"] == 2
    assert document["trait_values"]["email"]["observed"]["source"] == "website"
    assert [d["purpose"] for d in document["consent_history"]] == ["analytics"]
    assert len(document["events"]) == 4  # identify, page, declared answers, Form Submitted
    assert document["events_truncated"] is False


def all_items(dynamodb: Any) -> str:
    """Every item of every table, as text (a test may scan; the application never does)."""
    from cdp.runtime.codec import decompress
    from cdp.storage.profiles import decode_state

    text = []
    for name in dynamodb.list_tables()["TableNames"]:
        for item in dynamodb.scan(TableName=name)["Items"]:
            readable = {
                key: (decode_state if key == "state" else decompress)(value["B"])
                if key in ("body", "state")
                else value
                for key, value in item.items()
            }
            text.append(json.dumps(readable, default=str))
    return "\n".join(text)


def test_erasure_leaves_nothing_of_the_person_in_any_table(
    form: dict[str, Any],
    forms_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    privacy_api: Handler,
    profile_api: Handler,
    erasure_sweep: Handler,
    dynamodb: Any,
    bus: Callable[[], list[dict[str, Any]]],
    admin_api: Handler,
    queues: dict[str, str],
) -> None:
    # given a person known under several identifiers, with answers, consent, a segment,
    # a refused message, and a merged-away anonymous profile
    secret_values = [
        "ada-user-id",
        "ada-laptop",
        "ada-phone",
        "ada@example.com",
        "Ada Lovelace",
        "Analytical",
    ]
    admin_api(
        http_event(
            "PUT",
            "/v1/segments/everyone",
            body={
                "id": "everyone",
                "name": "Everyone",
                "condition": {"profile": "event_count", "gte": 1},
            },
            headers=bearer(),
        )
    )
    collector(
        http_event(
            path="/v1/page", headers=basic_auth(WRITE_KEY), body={"anonymousId": "ada-phone"}
        )
    )
    pipeline()
    collector(
        http_event(
            path="/v1/batch",
            headers=basic_auth(WRITE_KEY),
            body={
                "batch": [
                    {
                        "type": "identify",
                        "anonymousId": "ada-laptop",
                        "userId": "ada-user-id",
                        "traits": {"email": "ada@example.com", "name": "Ada Lovelace"},
                    },
                    {"type": "identify", "anonymousId": "ada-phone", "userId": "ada-user-id"},
                    {
                        "type": "track",
                        "userId": "ada-user-id",
                        "properties": {"engine": "Analytical"},
                    },  # refused
                ]
            },
        )
    )
    submit(
        forms_api,
        {"anonymousId": "ada-laptop", "answers": {"children": 0}, "consent": {"marketing": True}},
    )
    pipeline()
    assert all(value in all_items(dynamodb) for value in secret_values)

    # when she asks to be forgotten
    answer = privacy_api(
        http_event("DELETE", "/v1/profiles/email:ada%40example.com", headers=bearer())
    )
    assert answer["statusCode"] == 200, answer["body"]
    erased = answer_json(answer)["erased"]
    assert erased["events"] == 5  # a page, two identifies, the answers, Form Submitted
    assert erased["refused_messages"] == 1
    pipeline()

    # then no table holds any item with any of her identifiers or trait values
    everything = all_items(dynamodb)
    for value in secret_values:
        assert value not in everything
    assert (
        profile_api(http_event("GET", "/v1/profiles/user_id:ada-user-id", headers=bearer()))[
            "statusCode"
        ]
        == 404
    )
    assert "profile.deleted" in [e["detail-type"] for e in bus()]

    # and a late event for her is not stored, once collectors have learnt of the erasure
    # (they check for erasures once a minute; a fresh collector instance at once)
    from functions.collector import handler as collector_handler

    collector_handler._app.cache_clear()
    late = collector(
        http_event(
            path="/v1/track",
            headers=basic_auth(WRITE_KEY),
            body={"anonymousId": "ada-phone", "event": "Came Back"},
        )
    )
    assert answer_json(late) == {"success": True, "not_stored": 1}

    # and the sweep, a few minutes later, finds nothing left to erase
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=queues["ERASURE_QUEUE_URL"], MaxNumberOfMessages=10)
    [sweep] = messages["Messages"]
    assert erasure_sweep(
        {
            "Records": [
                {
                    "messageId": sweep["MessageId"],
                    "body": sweep["Body"],
                    "receiptHandle": sweep["ReceiptHandle"],
                    "eventSource": "aws:sqs",
                    "attributes": {},
                    "messageAttributes": {},
                }
            ]
        }
    ) == {"batchItemFailures": []}
    for value in secret_values:
        assert value not in all_items(dynamodb)


def test_the_sweep_erases_what_slipped_in_before_every_collector_knew(
    privacy_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    profile_builder: Handler,
    erasure_sweep: Handler,
    dynamodb: Any,
    table_names: dict[str, str],
    queues: dict[str, str],
) -> None:
    from cdp.intake.messages import read_request
    from cdp.storage.intake import IntakeStore

    collector(
        http_event(
            path="/v1/identify",
            headers=basic_auth(WRITE_KEY),
            body={"userId": "late-user", "traits": {"email": "late@example.com"}},
        )
    )
    pipeline()
    assert (
        privacy_api(http_event("DELETE", "/v1/profiles/user_id:late-user", headers=bearer()))[
            "statusCode"
        ]
        == 200
    )
    # an event stored by a collector that had not yet heard of the erasure
    slipped = read_request(
        {"userId": "late-user", "event": "Slipped In"},
        "track",
        source="website",
        received_at=clock.utc_now(),
    )
    IntakeStore(
        table_names["EVENTS_TABLE"],
        table_names["QUARANTINE_TABLE"],
        client=dynamodb,
        event_retention=timedelta(days=1),
        quarantine_retention=timedelta(days=1),
    ).save(slipped, source="website", received_at=clock.utc_now(), request_id="r")
    pipeline()  # the builder skips it: no profile comes back
    assert "late-user" in all_items(dynamodb)

    sqs = boto3.client("sqs")
    [sweep] = sqs.receive_message(QueueUrl=queues["ERASURE_QUEUE_URL"])["Messages"]
    erasure_sweep(
        {
            "Records": [
                {
                    "messageId": sweep["MessageId"],
                    "body": sweep["Body"],
                    "receiptHandle": sweep["ReceiptHandle"],
                    "eventSource": "aws:sqs",
                    "attributes": {},
                    "messageAttributes": {},
                }
            ]
        }
    )

    assert "late-user" not in all_items(dynamodb)


def test_retention_is_set_on_every_item_that_holds_personal_data(
    form: dict[str, Any],
    forms_api: Handler,
    collector: Handler,
    pipeline: Callable[[], None],
    dynamodb: Any,
    table_names: dict[str, str],
) -> None:
    collector(
        http_event(
            path="/v1/track", headers=basic_auth(WRITE_KEY), body={"userId": "r1", "event": "X"}
        )
    )
    collector(
        http_event(path="/v1/track", headers=basic_auth(WRITE_KEY), body={"userId": "r1"})
    )  # refused
    pipeline()
    now = clock.utc_now().timestamp()
    [event] = dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"]
    [refused] = dynamodb.scan(TableName=table_names["QUARANTINE_TABLE"])["Items"]
    [profile] = dynamodb.scan(TableName=table_names["PROFILES_TABLE"])["Items"]
    days = lambda item: (int(item["expires_at"]["N"]) - now) / 86400  # noqa: E731
    # an event item for the hot window (the lake keeps the event for event_retention_days)
    assert EVENT_HOT_DAYS - 1 < days(event) <= EVENT_HOT_DAYS
    assert 29 < days(refused) <= 30
    assert 729 < days(profile) <= 730


def comparable_text(dynamodb: Any) -> str:
    """Every item of every table as text, in the form erasure compares identifiers in."""
    from cdp.profiles.identity import comparable

    return comparable(all_items(dynamodb).encode().decode("unicode_escape", errors="replace"))


FULLWIDTH = "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in "ada@example.com")


@pytest.mark.parametrize(
    "written", ["ADA@Example.COM", " ada@example.com ", FULLWIDTH, "Ada@Example.com\t"]
)
def test_erasure_finds_every_form_of_an_identifier_in_every_table(
    written: str,
    collector: Handler,
    pipeline: Callable[[], None],
    privacy_api: Handler,
    dynamodb: Any,
    table_names: dict[str, str],
) -> None:
    # given a person, and refused messages naming her address as clients wrote it
    def send(body: Any, path: str = "/v1/batch") -> None:
        collector(http_event(path=path, headers=basic_auth(WRITE_KEY), body=body))

    send({"batch": [{"type": "identify", "userId": "ada-1", "traits": {"email": written}}]})
    send(
        {
            "batch": [
                {"type": "track", "userId": "someone", "context": {"traits": {"email": written}}}
            ]
        }
    )
    send({"anonymousId": "x", "traits": {"email": written}, "timestamp": "yesterday"}, "/v1/i")
    send('{"userId": "ada-1", "traits": {"email": "' + written.strip() + '"', "/v1/identify")
    pipeline()
    assert len(dynamodb.scan(TableName=table_names["QUARANTINE_TABLE"])["Items"]) == 3

    # when she is erased by her address, written the plain way
    answer = privacy_api(
        http_event("DELETE", "/v1/profiles/email:ada%40example.com", headers=bearer())
    )
    assert answer["statusCode"] == 200, answer["body"]
    assert answer_json(answer)["erased"]["refused_messages"] == 3
    pipeline()

    # then no table holds her address or her user id in any form
    left = comparable_text(dynamodb)
    assert "ada@example.com" not in left
    assert "ada-1" not in left


def test_erasure_takes_the_person_out_of_other_peoples_events_that_name_them(
    collector: Handler,
    pipeline: Callable[[], None],
    privacy_api: Handler,
    profile_api: Handler,
    dynamodb: Any,
) -> None:
    # given a shared laptop: Ada signs in on it first, then Bob (his link to it is refused,
    # but his event, filed under his user id, names the laptop)
    def identify(user: str, email: str) -> None:
        body = {"userId": user, "anonymousId": "laptop-7f3a", "traits": {"email": email}}
        collector(http_event(path="/v1/identify", headers=basic_auth(WRITE_KEY), body=body))
        pipeline()

    identify("ada-7f3a", "ada-7f3a@example.com")
    identify("bob-7f3a", "bob-7f3a@example.com")
    # when Ada is erased
    answer = privacy_api(http_event("DELETE", "/v1/profiles/user_id:ada-7f3a", headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    assert answer_json(answer)["erased"]["events_redacted"] == 1
    pipeline()
    # then nothing anywhere holds her identifiers, and Bob keeps his history
    left = comparable_text(dynamodb)
    for value in ("ada-7f3a", "laptop-7f3a"):
        assert value not in left
    bob = answer_json(
        profile_api(http_event("GET", "/v1/profiles/user_id:bob-7f3a/events", headers=bearer()))
    )
    [event] = bob["events"]
    assert event["userId"] == "bob-7f3a"
    assert event["anonymousId"] == "[erased]"


def test_erasure_takes_the_identifiers_out_of_profiles_that_hold_them_as_traits(
    collector: Handler,
    pipeline: Callable[[], None],
    privacy_api: Handler,
    profile_api: Handler,
    dynamodb: Any,
) -> None:
    def identify(user: str, email: str | None = None) -> None:
        body: dict[str, Any] = {"userId": user, "anonymousId": "laptop-5c1d"}
        if email:
            body["traits"] = {"email": email}
        collector(http_event(path="/v1/identify", headers=basic_auth(WRITE_KEY), body=body))
        pipeline()

    # given a mistaken merge: Carol's laptop, known by her address after a buggy sign-in
    # ("undefined"), is joined to Dan when he signs in on it; Carol's own sign-in then keeps
    # her address only as a trait of her profile (the address is linked to Dan's)
    identify("undefined", "Carol-5c1d@example.com")
    identify("dan-5c1d")
    identify("carol-5c1d", "carol-5c1d@example.com")
    # when Dan's profile is erased, with everything it holds
    answer = privacy_api(http_event("DELETE", "/v1/profiles/user_id:dan-5c1d", headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    assert answer_json(answer)["erased"]["profiles_redacted"] == 1
    pipeline()
    # then no table holds the address, not even Carol's profile; Carol keeps her profile
    assert "carol-5c1d@example.com" not in comparable_text(dynamodb)
    carol = profile_of(profile_api, "user_id:carol-5c1d")
    assert "email" not in carol["traits"]
    assert [i["value"] for i in carol["identities"]] == ["carol-5c1d"]
