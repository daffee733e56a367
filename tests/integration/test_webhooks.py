"""Inbound engagement webhooks on moto: SendGrid's signed Event Webhook and a generic JSON
mapping, into the pipeline: events on the person's profile (found by e-mail), counted by
computed traits, an unsubscribe revoking marketing consent; forged payloads stored nowhere."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cdp.intake.webhooks import SIGNATURE, TIMESTAMP
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer, stored_events

Handler = Callable[[dict[str, Any]], dict[str, Any]]

SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
GENERIC_SECRET = "a-shared-secret-of-some-length"
EMAIL = "Ada@Example.com"


def public_key_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid's settings page shows it: base64 DER."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sendgrid_headers(body: bytes, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY) -> dict[str, str]:
    timestamp = "1795424400"
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE: base64.b64encode(signature).decode(), TIMESTAMP: timestamp}


def sendgrid_events(*kinds: str) -> bytes:
    return json.dumps(
        [
            {
                "email": EMAIL,
                "timestamp": 1795420000 + index,
                "event": kind,
                "sg_event_id": f"sg-{kind}-{index}",
                "sg_message_id": "msg-1",
                **({"url": "https://shop.example/sale"} if kind == "click" else {}),
            }
            for index, kind in enumerate(kinds)
        ]
    ).encode()


def post(webhooks: Handler, source: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return webhooks(
        http_event(
            "POST",
            f"/v1/webhooks/{source}",
            body=body.decode(),
            headers={"content-type": "application/json", **headers},
        )
    )


def set_up(admin_api: Handler, source: str, webhook: dict[str, Any]) -> None:
    created = admin_api(
        http_event("POST", "/v1/sources", body={"name": source, "kind": "email"}, headers=bearer())
    )
    assert created["statusCode"] == 201, created["body"]
    answer = admin_api(
        http_event("PUT", f"/v1/webhooks/{source}", body={"source": source, **webhook},
                   headers=bearer())
    )  # fmt: skip
    assert answer["statusCode"] == 200, answer["body"]


@pytest.fixture
def sendgrid(admin_api: Handler) -> str:
    set_up(admin_api, "sendgrid", {"format": "sendgrid",
                                   "verification_key": public_key_text(SENDGRID_KEY)})  # fmt: skip
    return "sendgrid"


@pytest.fixture
def generic(admin_api: Handler) -> str:
    set_up(
        admin_api,
        "mailer",
        {
            "format": "generic",
            "secret": GENERIC_SECRET,
            "signature_header": "X-Mailer-Signature",
            "mapping": {
                "events": "data.events",
                "email": "recipient.address",
                "event": "kind",
                "timestamp": "at",
                "id": "uuid",
                "properties": {"campaign": "campaign.name"},
                "names": {"opened": "Email Opened", "clicked": "Email Link Clicked"},
                "unsubscribe": ["optout"],
            },
        },
    )
    return "mailer"


def generic_body(*kinds: str) -> bytes:
    events = [
        {
            "uuid": f"e-{index}",
            "kind": kind,
            "at": "2026-11-23T08:00:00Z",
            "recipient": {"address": EMAIL},
            "campaign": {"name": "November sale"},
        }
        for index, kind in enumerate(kinds)
    ]
    return json.dumps({"data": {"events": events}}).encode()


def hmac_headers(body: bytes, secret: str = GENERIC_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-mailer-signature": f"sha256={digest}"}


def test_a_signed_sendgrid_payload_is_stored_under_the_email_address(
    webhooks: Handler, sendgrid: str, dynamodb: Any, table_names: dict[str, str]
) -> None:
    body = sendgrid_events("delivered", "open", "click")

    answer = post(webhooks, sendgrid, body, sendgrid_headers(body))

    assert answer["statusCode"] == 200, answer["body"]
    assert answer_json(answer) == {"success": True, "accepted": 3}
    items = dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"]
    assert {item["pk"]["S"] for item in items} == {"email:ada@example.com"}
    assert {item["source"]["S"] for item in items} == {"sendgrid"}
    stored = {m["event"]: m for m in stored_events(dynamodb, table_names["EVENTS_TABLE"])}
    assert set(stored) == {"Email Delivered", "Email Opened", "Email Link Clicked"}
    assert stored["Email Link Clicked"]["properties"]["url"] == "https://shop.example/sale"
    assert stored["Email Opened"]["timestamp"] == "2026-11-23T07:46:41.000Z"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda body: sendgrid_headers(body, OTHER_KEY), id="signed-by-another-key"),
        pytest.param(lambda body: sendgrid_headers(body + b" "), id="body-changed-after-signing"),
        pytest.param(
            lambda body: {**sendgrid_headers(body), TIMESTAMP: "1795424401"}, id="timestamp-changed"
        ),
        pytest.param(lambda body: {}, id="no-signature"),
        pytest.param(lambda body: {SIGNATURE: "bm90IGEgc2lnbmF0dXJl", TIMESTAMP: "1"}, id="junk"),
    ],
)
def test_a_forged_sendgrid_payload_is_refused_and_stores_nothing(
    webhooks: Handler,
    sendgrid: str,
    dynamodb: Any,
    table_names: dict[str, str],
    forge: Callable[[bytes], dict[str, str]],
) -> None:
    body = sendgrid_events("unsubscribe")

    answer = post(webhooks, sendgrid, body, forge(body))

    assert answer["statusCode"] == 401
    assert "signature" in answer_json(answer)["message"]
    assert stored_events(dynamodb, table_names["EVENTS_TABLE"]) == []


def test_sendgrid_retrying_a_delivery_stores_each_event_once(
    webhooks: Handler, sendgrid: str, dynamodb: Any, table_names: dict[str, str]
) -> None:
    body = sendgrid_events("open", "click")

    for _ in range(3):
        assert post(webhooks, sendgrid, body, sendgrid_headers(body))["statusCode"] == 200

    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 2


def test_entries_without_an_address_are_skipped_with_the_reason(
    webhooks: Handler, sendgrid: str
) -> None:
    entries = json.loads(sendgrid_events("open", "click"))
    entries[1]["email"] = "not an address"
    body = json.dumps(entries).encode()

    answer = answer_json(post(webhooks, sendgrid, body, sendgrid_headers(body)))

    assert answer == {"success": True, "accepted": 1,
                      "skipped": ["event 1: no valid e-mail address"]}  # fmt: skip


def test_engagement_reaches_the_profile_and_an_unsubscribe_revokes_marketing(
    webhooks: Handler,
    sendgrid: str,
    collector: Handler,
    profile_api: Handler,
    pipeline: Callable[[], None],
) -> None:
    # a customer who signed up on the website with marketing consent
    signed_up = {
        "type": "identify",
        "userId": "u-ada",
        "traits": {"email": EMAIL},
        "context": {"consent": {"categoryPreferences": {"marketing": True}}},
        "messageId": "signup",
        "timestamp": "2026-11-22T09:00:00.000Z",
    }
    sent = collector(http_event("POST", "/v1/identify", body=signed_up,
                                headers=basic_auth(WRITE_KEY)))  # fmt: skip
    assert sent["statusCode"] == 200
    pipeline()

    # opens and clicks a campaign, then unsubscribes
    body = sendgrid_events("open", "click", "click", "unsubscribe")
    assert post(webhooks, sendgrid, body, sendgrid_headers(body))["statusCode"] == 200
    pipeline()

    profile = answer_json(
        profile_api(http_event("GET", "/v1/profiles/user_id:u-ada", headers=bearer()))
    )
    assert profile["computed"]["email_clicks"] == 2
    assert profile["computed"]["email_opens"] == 1
    assert profile["consent"]["marketing"]["state"] == "denied"
    timeline = answer_json(
        profile_api(http_event("GET", "/v1/profiles/user_id:u-ada/events", headers=bearer()))
    )
    names = [event["event"] for event in timeline["events"] if event["type"] == "track"]
    assert names == ["Unsubscribed", "Email Link Clicked", "Email Link Clicked", "Email Opened"]


def test_a_generic_webhook_maps_fields_and_checks_its_hmac(
    webhooks: Handler, generic: str, dynamodb: Any, table_names: dict[str, str]
) -> None:
    body = generic_body("opened", "clicked", "optout")

    forged = post(webhooks, generic, body, hmac_headers(body, "another-secret-entirely"))
    assert forged["statusCode"] == 401
    assert stored_events(dynamodb, table_names["EVENTS_TABLE"]) == []

    answer = post(webhooks, generic, body, hmac_headers(body))
    assert answer["statusCode"] == 200, answer["body"]
    stored = {m["event"]: m for m in stored_events(dynamodb, table_names["EVENTS_TABLE"])}
    assert set(stored) == {"Email Opened", "Email Link Clicked", "Email Optout"}
    assert stored["Email Opened"]["properties"] == {"campaign": "November sale", "type": "opened"}
    assert stored["Email Optout"]["context"]["consent"] == {
        "categoryPreferences": {"marketing": False}
    }


def test_a_webhook_nobody_set_up_is_a_404(webhooks: Handler) -> None:
    body = sendgrid_events("open")

    answer = post(webhooks, "nobody", body, sendgrid_headers(body))

    assert answer["statusCode"] == 404
    assert "nobody" in answer_json(answer)["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"event": "open"}', "list of events"), (b"not json", "JSON")],
)
def test_a_signed_payload_of_the_wrong_shape_is_a_400(
    webhooks: Handler, sendgrid: str, body: bytes, message: str
) -> None:
    answer = post(webhooks, sendgrid, body, sendgrid_headers(body))

    assert answer["statusCode"] == 400
    assert message in answer_json(answer)["message"]


def test_webhook_secrets_are_never_listed(admin_api: Handler, generic: str) -> None:
    answer = admin_api(http_event("GET", "/v1/webhooks", headers=bearer()))

    assert answer["statusCode"] == 200
    [listed] = answer_json(answer)["webhooks"]
    assert listed["source"] == "mailer"
    assert GENERIC_SECRET not in answer["body"]


def test_a_webhook_needs_its_source_to_exist(admin_api: Handler) -> None:
    answer = admin_api(
        http_event("PUT", "/v1/webhooks/ghost",
                   body={"source": "ghost", "format": "generic", "secret": GENERIC_SECRET},
                   headers=bearer())
    )  # fmt: skip

    assert answer["statusCode"] == 400
    assert "create the source" in answer_json(answer)["message"]
