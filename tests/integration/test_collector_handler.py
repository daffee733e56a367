from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from cdp.runtime.settings.collector import CollectorSettings
from cdp.storage.batches import RetryPolicy
from cdp.storage.intake import IntakeStore
from cdp.storage.keys import KeyStore
from cdp.storage.live import LiveLog
from cdp.storage.suppressions import SuppressionList
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, Throttling, quarantined, stored_events
from workbench.local.invocation import LambdaContext

Send = Callable[[dict[str, Any]], dict[str, Any]]

MESSAGES = {
    "identify": {"userId": "u-1", "traits": {"email": "ada@example.com"}},
    "track": {"userId": "u-1", "event": "Signed Up", "properties": {"plan": "pro"}},
    "page": {"anonymousId": "a-1", "name": "Home", "properties": {"path": "/"}},
    "screen": {"userId": "u-1", "name": "Settings"},
    "group": {"userId": "u-1", "groupId": "g-1", "traits": {"name": "ACME"}},
    "alias": {"userId": "u-1", "previousId": "a-1"},
}


@pytest.mark.parametrize("kind", list(MESSAGES))
@pytest.mark.parametrize("short", [False, True])
def test_every_message_route_stores_its_message(
    collector: Send, dynamodb: Any, table_names: dict[str, str], kind: str, short: bool
) -> None:
    path = f"/v1/{kind[0] if short else kind}"
    body = {**MESSAGES[kind], "messageId": f"{kind}-1"}

    answer = collector(http_event(path=path, body=body, headers=basic_auth(WRITE_KEY)))

    assert answer["statusCode"] == 200
    assert answer_json(answer) == {"success": True}
    [stored] = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert stored["type"] == kind
    assert stored["messageId"] == f"{kind}-1"
    assert {key: stored[key] for key in MESSAGES[kind]} == MESSAGES[kind]


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import", "/v1/b"])
def test_batches_store_every_message_with_the_key_in_the_body(
    collector: Send, dynamodb: Any, table_names: dict[str, str], path: str
) -> None:
    batch = [{"type": kind, "messageId": f"m-{kind}", **body} for kind, body in MESSAGES.items()]
    # browsers post JSON as text/plain to avoid a CORS preflight
    event = http_event(
        path=path,
        body=json.dumps({"writeKey": WRITE_KEY, "batch": batch}),
        headers={"content-type": "text/plain"},
    )

    answer = collector(event)

    assert answer["statusCode"] == 200, answer["body"]
    stored = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert sorted(message["messageId"] for message in stored) == sorted(
        m["messageId"] for m in batch
    )
    assert all("writeKey" not in message for message in stored)


def test_gzip_bodies_are_accepted(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    body = {"batch": [{"type": "track", "userId": "u", "event": "Zipped"}]}
    event = http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY), gzipped=True)
    assert collector(event)["statusCode"] == 200
    assert stored_events(dynamodb, table_names["EVENTS_TABLE"])[0]["event"] == "Zipped"


def test_a_retried_message_is_stored_once(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    message = {
        "type": "track",
        "userId": "u",
        "event": "Order Completed",
        "messageId": "m-1",
        "timestamp": "2026-11-23T08:00:00.000Z",
    }
    for sent_at in ("2026-11-23T08:00:01Z", "2026-11-23T08:00:31Z", "2026-11-23T08:05:00Z"):
        body = {"batch": [message], "sentAt": sent_at}
        answer = collector(http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY)))
        assert answer["statusCode"] == 200
    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 1


def test_a_batch_repeating_a_message_stores_it_once(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    message = {
        "type": "track",
        "userId": "u",
        "event": "x",
        "messageId": "dup",
        "timestamp": "2026-11-23T08:00:00Z",
    }
    body = {"batch": [message, message, {**message, "messageId": "other"}]}
    answer = collector(http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY)))
    assert answer["statusCode"] == 200
    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 2


def test_large_batches_are_written_in_chunks(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    batch = [
        {"type": "track", "userId": f"u-{n}", "event": "x", "messageId": f"m-{n}"}
        for n in range(260)
    ]
    answer = collector(
        http_event(path="/v1/batch", body={"batch": batch}, headers=basic_auth(WRITE_KEY))
    )
    assert answer["statusCode"] == 200
    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 260


def test_invalid_messages_of_a_batch_are_quarantined_with_reason_and_payload(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    bad = {"type": "track", "userId": "u", "messageId": "no-event"}
    body = {"writeKey": WRITE_KEY, "batch": [{"type": "track", "userId": "u", "event": "ok"}, bad]}

    answer = collector(http_event(path="/v1/batch", body=body))

    assert answer["statusCode"] == 200
    assert answer_json(answer) == {
        "success": True,
        "accepted": 1,
        "rejected": [{"index": 1, "messageId": "no-event", "reason": "event: is required"}],
    }
    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 1
    [item] = quarantined(dynamodb, table_names["QUARANTINE_TABLE"])
    assert item["reason"]["S"] == "event: is required"
    assert json.loads(item["payload"]["S"]) == bad
    assert item["source"]["S"] == "website"
    assert int(item["expires_at"]["N"]) > 0


def test_an_invalid_single_message_is_a_400_and_quarantined(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    answer = collector(
        http_event(path="/v1/track", body={"userId": "u"}, headers=basic_auth(WRITE_KEY))
    )
    assert answer["statusCode"] == 400
    assert answer_json(answer) == {
        "success": False,
        "code": "invalid_request",
        "message": "event: is required",
        "rejected": [{"reason": "event: is required"}],
    }
    assert len(quarantined(dynamodb, table_names["QUARANTINE_TABLE"])) == 1
    assert stored_events(dynamodb, table_names["EVENTS_TABLE"]) == []


def test_resending_a_refused_message_does_not_grow_the_quarantine(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    for _ in range(3):
        collector(http_event(path="/v1/track", body={"userId": "u"}, headers=basic_auth(WRITE_KEY)))
    assert len(quarantined(dynamodb, table_names["QUARANTINE_TABLE"])) == 1


def test_two_different_refusals_of_one_person_are_both_kept(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    # the same body to two routes: refused as a track (no event), and as a group (no groupId)
    body = {"userId": "u", "properties": {"plan": "pro"}}
    for path in ("/v1/track", "/v1/group"):
        answer = collector(http_event(path=path, body=body, headers=basic_auth(WRITE_KEY)))
        assert answer["statusCode"] == 400
    reasons = sorted(
        i["reason"]["S"] for i in quarantined(dynamodb, table_names["QUARANTINE_TABLE"])
    )
    assert reasons == ["event: is required", "groupId: is required"]


def test_with_consent_required_a_refusal_without_consent_keeps_no_payload(
    collector: Send, dynamodb: Any, table_names: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENT_REQUIRED", "true")
    from functions.collector import handler

    handler._app.cache_clear()
    granted = {"consent": {"categoryPreferences": {"analytics": True}}}
    no_consent = {"traits": {"email": "a@b.co"}}
    batch = [
        {"type": "track", "userId": "u", "messageId": "m-1", "context": no_consent},
        {"type": "track", "userId": "u", "messageId": "m-2", "context": granted},
    ]
    body = {"batch": batch}
    collector(http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY)))
    collector(http_event(path="/v1/batch", body="{not json", headers=basic_auth(WRITE_KEY)))
    items = {
        item.get("message_id", {}).get("S"): item
        for item in quarantined(dynamodb, table_names["QUARANTINE_TABLE"])
    }
    assert set(items) == {"m-1", "m-2", None}
    assert "payload" not in items["m-1"]
    assert "payload_withheld" in items["m-1"]
    assert "payload" not in items[None]  # not even JSON: nothing says the person agreed
    assert json.loads(items["m-2"]["payload"]["S"]) == batch[1]  # consent given: kept
    assert all(item["reason"]["S"] for item in items.values())


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (http_event(path="/v1/track", body={"userId": "u", "event": "x"}), 401, "unauthorized"),
        (
            http_event(
                path="/v1/track", body={"userId": "u", "event": "x"}, headers=basic_auth("wk_wrong")
            ),
            401,
            "unauthorized",
        ),
        (
            http_event(
                path="/v1/track", body={"writeKey": "wk_disabled", "userId": "u", "event": "x"}
            ),
            401,
            "unauthorized",
        ),
        (
            http_event(path="/v1/batch", body="{not json", headers=basic_auth(WRITE_KEY)),
            400,
            "invalid_request",
        ),
        (
            http_event(path="/v1/batch", body=b"\xff\xfe\x00", headers=basic_auth(WRITE_KEY)),
            400,
            "invalid_request",
        ),
        (
            http_event(path="/v1/batch", body="x" * (501 * 1024), headers=basic_auth(WRITE_KEY)),
            413,
            "too_large",
        ),
        (
            http_event(
                path="/v1/track",
                body={"userId": "u", "event": "x", "properties": {"blob": "y" * 33_000}},
                headers=basic_auth(WRITE_KEY),
            ),
            413,
            "too_large",
        ),
        (http_event(path="/v1/nothing-here", body={}), 404, "not_found"),
        (http_event(method="GET", path="/v1/projects/wk_unknown/settings"), 404, "not_found"),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    collector: Send, event: dict[str, Any], status: int, code: str
) -> None:
    answer = collector(event)
    assert answer["statusCode"] == status
    body = answer_json(answer)
    assert body["success"] is False
    assert body["code"] == code
    assert body["message"]
    assert "Traceback" not in answer["body"]


def test_cors_preflight_is_answered_for_allowed_origins_only(collector: Send) -> None:
    allowed = collector(
        http_event(method="OPTIONS", path="/v1/t", headers={"origin": "https://shop.example"})
    )
    assert allowed["statusCode"] == 204
    assert allowed["headers"]["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Authorization" in allowed["headers"]["Access-Control-Allow-Headers"]

    other = collector(
        http_event(method="OPTIONS", path="/v1/t", headers={"origin": "https://evil.example"})
    )
    assert "Access-Control-Allow-Origin" not in (other.get("headers") or {})


def test_answers_carry_cors_headers_for_allowed_origins(collector: Send) -> None:
    event = http_event(
        path="/v1/t",
        body=json.dumps({"writeKey": WRITE_KEY, "anonymousId": "a", "event": "x"}),
        headers={"origin": "https://www.shop.example", "content-type": "text/plain"},
    )
    answer = collector(event)
    assert answer["statusCode"] == 200
    assert answer["headers"]["Access-Control-Allow-Origin"] == "https://www.shop.example"


def test_analytics_js_settings_point_it_at_this_api(collector: Send) -> None:
    event = http_event(
        method="GET",
        path=f"/v1/projects/{WRITE_KEY}/settings",
        headers={"host": "cdp.shop.example"},
    )
    answer = collector(event)
    assert answer["statusCode"] == 200
    settings = answer_json(answer)
    assert settings["integrations"]["Segment.io"] == {
        "apiKey": WRITE_KEY,
        "apiHost": "cdp.shop.example/v1",
        "protocol": "https",
    }


@pytest.mark.parametrize(
    ("forwarded", "api_host"),
    [
        ("d111.cloudfront.net", "d111.cloudfront.net/v1"),  # through the CDN: its address
        ("evil.example/steal?x=", "cdp.shop.example/v1"),  # not a host name: ignored
    ],
)
def test_behind_the_cdn_analytics_js_is_pointed_at_the_cdn(
    collector: Send, forwarded: str, api_host: str
) -> None:
    event = http_event(
        method="GET",
        path=f"/v1/projects/{WRITE_KEY}/settings",
        headers={"host": "cdp.shop.example", "x-forwarded-host": forwarded},
    )
    settings = answer_json(collector(event))
    assert settings["integrations"]["Segment.io"]["apiHost"] == api_host


def test_library_metrics_are_acknowledged_and_dropped(
    collector: Send, dynamodb: Any, table_names: dict[str, str]
) -> None:
    answer = collector(http_event(path="/v1/m", body={"series": []}))
    assert answer["statusCode"] == 200
    assert stored_events(dynamodb, table_names["EVENTS_TABLE"]) == []


def test_no_personal_data_in_logs(collector: Send, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"userId": "person-7", "traits": {"email": "grace@example.com"}}
    collector(http_event(path="/v1/identify", body=body, headers=basic_auth(WRITE_KEY)))
    collector(
        http_event(
            path="/v1/identify",
            body={"traits": {"email": "grace@example.com"}},
            headers=basic_auth(WRITE_KEY),
        )
    )
    output = capsys.readouterr()
    for secret in ("person-7", "grace@example.com", WRITE_KEY):
        assert secret not in output.out
        assert secret not in output.err


def throttled_app(dynamodb: Any, times: int) -> tuple[Any, Throttling]:
    from functions.collector.handler import create_app

    settings = CollectorSettings.from_env()
    client = Throttling(dynamodb, times)
    store = IntakeStore(
        settings.events_table,
        settings.quarantine_table,
        client=client,
        event_retention=timedelta(days=1),
        quarantine_retention=timedelta(days=1),
        retry=RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002),
    )
    app = create_app(
        settings,
        keys=KeyStore(settings.keys_table, client=dynamodb),
        store=store,
        suppressions=SuppressionList(
            settings.suppressions_table, client=dynamodb, pepper=lambda: "pepper"
        ),
        live=LiveLog(settings.live_table, client=dynamodb),
    )
    return app, client


def test_unprocessed_items_are_retried(
    keys: None, dynamodb: Any, table_names: dict[str, str]
) -> None:
    app, client = throttled_app(dynamodb, times=3)
    body = {"batch": [{"type": "track", "userId": "u", "event": "x", "messageId": "m-1"}]}
    answer = app.resolve(
        http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY)), LambdaContext()
    )
    assert answer["statusCode"] == 200
    assert client.calls == 4
    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 1


def test_persistent_throttling_answers_503_and_the_retry_stores_once(
    keys: None, dynamodb: Any, table_names: dict[str, str]
) -> None:
    body = {
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "x",
                "messageId": "m-1",
                "timestamp": "2026-11-23T08:00:00Z",
            }
        ]
    }
    event = http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY))

    busy_app, _ = throttled_app(dynamodb, times=100)
    answer = busy_app.resolve(event, LambdaContext())
    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "2"
    assert answer_json(answer)["code"] == "busy"

    healthy_app, _ = throttled_app(dynamodb, times=0)
    assert healthy_app.resolve(event, LambdaContext())["statusCode"] == 200
    assert healthy_app.resolve(event, LambdaContext())["statusCode"] == 200
    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == 1
