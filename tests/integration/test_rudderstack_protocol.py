"""The RudderStack protocol, as its data plane and control plane speak it to its SDKs: the
message routes, the beacon batch, the source configuration, its fields (identify traits in
`context.traits`, `originalTimestamp`, `"userId": ""` before identify), its body forms and
the headers its browser SDK sends across origins. Each case failed before the collector
spoke RudderStack."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer, quarantined, stored_events

Handler = Callable[[dict[str, Any]], dict[str, Any]]
SENT = "2026-11-20T10:00:02.000Z"


def rudder_message(kind: str, **fields: Any) -> dict[str, Any]:
    """A message as RudderStack's JavaScript SDK (v3) builds it before identify."""
    return {
        "type": kind,
        "channel": "web",
        "userId": "",
        "anonymousId": "a1b2c3d4-anon",
        "messageId": f"{kind}-{len(fields)}-0001",
        "originalTimestamp": "2026-11-20T10:00:00.000Z",
        "sentAt": SENT,
        "integrations": {"All": True},
        "context": {
            "traits": {},
            "library": {"name": "RudderLabs JavaScript SDK", "version": "3.34.1"},
            "sessionId": 1795424400000,
        },
        **fields,
    }


def test_an_empty_user_id_means_no_user_id(
    collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    answer = collector(
        http_event(path="/v1/page", body=rudder_message("page", name="Home"),
                   headers=basic_auth(WRITE_KEY))
    )  # fmt: skip
    assert answer["statusCode"] == 200, answer["body"]
    [stored] = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert "userId" not in stored
    assert stored["anonymousId"] == "a1b2c3d4-anon"
    assert stored["originalTimestamp"] == "2026-11-20T10:00:00.000Z"


def test_identify_traits_in_context_traits_reach_the_profile(
    collector: Handler, pipeline: Callable[[], None], profile_api: Handler
) -> None:
    # rudder-sdk-python and the Node SDK put identify traits only in context.traits
    identify = rudder_message(
        "identify",
        userId="rs-user-1",
        context={"traits": {"email": "Ada@Example.com", "plan": "pro", "name": "Ada"}},
    )
    identify["traits"] = {"plan": "enterprise"}  # the top level wins where both say
    answer = collector(
        http_event(path="/v1/identify", body=identify, headers=basic_auth(WRITE_KEY))
    )
    assert answer["statusCode"] == 200, answer["body"]
    pipeline()
    found = profile_api(http_event("GET", "/v1/profiles/user_id:rs-user-1", headers=bearer()))
    traits = answer_json(found)["traits"]
    assert traits["name"] == "Ada"
    assert traits["plan"] == "enterprise"
    assert {"type": "email", "value": "ada@example.com"} in answer_json(found)["identities"]


def test_a_tracks_context_traits_do_not_set_traits(
    collector: Handler, pipeline: Callable[[], None], profile_api: Handler
) -> None:
    """RudderStack copies the user's cached traits into every event: only identify sets them."""
    track = rudder_message("track", event="Clicked", userId="rs-user-2",
                           context={"traits": {"plan": "stale"}})  # fmt: skip
    collector(http_event(path="/v1/track", body=track, headers=basic_auth(WRITE_KEY)))
    pipeline()
    found = profile_api(http_event("GET", "/v1/profiles/user_id:rs-user-2", headers=bearer()))
    assert "plan" not in answer_json(found)["traits"]


def test_the_beacon_batch_carries_its_key_in_the_query(
    collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    body = {"batch": [rudder_message("track", event="Left Page")], "sentAt": SENT}
    answer = collector(
        http_event(
            path="/beacon/v1/batch",
            body=json.dumps(body),
            headers={"content-type": "text/plain;charset=UTF-8"},
            query={"writeKey": WRITE_KEY},
        )
    )
    assert answer["statusCode"] == 200, answer["body"]
    [stored] = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert stored["event"] == "Left Page"


def test_a_beacon_without_a_valid_key_is_refused(collector: Handler) -> None:
    body = {"batch": [rudder_message("track", event="Left Page")]}
    for query in ({}, {"writeKey": "wk_nobody"}):
        answer = collector(http_event(path="/beacon/v1/batch", body=body, query=query))
        assert answer["statusCode"] == 401, answer["body"]


def test_the_node_sdks_gzipped_form_encoded_batch_is_read(
    collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    """@rudderstack/rudder-sdk-node posts gzipped JSON labelled form-urlencoded."""
    message = rudder_message("track", event="Signed Up", userId="rs-user-3", channel="server")
    message.pop("context")
    message["context"] = {"library": {"name": "analytics-node", "version": "3.0.13"}}
    body = {"batch": [message], "sentAt": SENT, "timestamp": SENT}
    answer = collector(
        http_event(
            path="/v1/batch",
            body=gzip.compress(json.dumps(body).encode()),
            headers={
                **basic_auth(WRITE_KEY),
                "content-type": "application/x-www-form-urlencoded",
                "content-encoding": "gzip",
            },
        )
    )
    assert answer["statusCode"] == 200, answer["body"]
    [stored] = stored_events(dynamodb, table_names["EVENTS_TABLE"])
    assert stored["originalTimestamp"] == "2026-11-20T10:00:00.000Z"


def test_each_event_records_its_channel_and_library(
    collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    collector(
        http_event(path="/v1/batch", headers=basic_auth(WRITE_KEY), body={"batch": [
            rudder_message("page", name="Home"),
            {"type": "track", "event": "Bare", "anonymousId": "anon-9", "messageId": "bare-1"},
        ]})
    )  # fmt: skip
    items = {
        item["sk"]["S"]: item
        for item in dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"]
    }
    page = items["page-1-0001"]
    assert page["channel"] == {"S": "web"}
    assert page["library"] == {"S": "RudderLabs JavaScript SDK/3.34.1"}
    assert "channel" not in items["bare-1"]
    assert "library" not in items["bare-1"]


@pytest.mark.parametrize("path", ["/sourceConfig", "/sourceConfig/"])
def test_the_source_configuration_answers_as_rudderstacks_control_plane(
    collector: Handler, path: str
) -> None:
    # the browser SDK sends the key in the query and as Basic auth; mobile SDKs as Basic auth
    for headers, query in (
        (basic_auth(WRITE_KEY), {"p": "npm", "v": "3.34.1", "writeKey": WRITE_KEY}),
        (basic_auth(WRITE_KEY), {"p": "android"}),
        ({}, {"writeKey": WRITE_KEY}),
    ):
        answer = collector(
            http_event("GET", path, headers=headers, query=query, route="GET /sourceConfig")
        )
        assert answer["statusCode"] == 200, answer["body"]
        source = answer_json(answer)["source"]
        assert source["enabled"] is True
        assert source["destinations"] == []  # no device mode: every event comes here
        assert {"id", "name", "workspaceId", "config"} <= source.keys()


def test_the_source_configuration_refuses_an_unknown_key(collector: Handler) -> None:
    for headers, query in ((basic_auth("wk_nobody"), {}), ({}, {}), ({}, {"writeKey": "x"})):
        answer = collector(http_event("GET", "/sourceConfig/", headers=headers, query=query))
        assert answer["statusCode"] == 401
        assert "key" in answer_json(answer)["message"]


def test_a_cross_origin_preflight_allows_what_the_browser_sdk_sends(
    collector: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = (
        "authorization,content-type,anonymousid,sentat,rsa-recovered,rsa-retry-attempt,"
        "rsa-retry-reason,rsa-since-first-attempt,rsa-since-last-attempt"
    )
    for path in ("/v1/batch", "/v1/track", "/sourceConfig/", "/beacon/v1/batch"):
        answer = collector(
            http_event(
                "OPTIONS",
                path,
                headers={
                    "origin": "https://shop.example",
                    "access-control-request-method": "POST",
                    "access-control-request-headers": asked,
                },
            )
        )
        assert answer["statusCode"] == 204, (path, answer)
        headers = {name.lower(): value for name, value in answer["headers"].items()}
        allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
        assert set(asked.split(",")) <= allowed, path
        assert headers["access-control-allow-origin"] == "https://shop.example"


def test_an_identify_sent_anonymous_id_header_only_is_still_refused_clearly(
    collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    """Without a userId or anonymousId in the body there is no one to file it under: the
    AnonymousId header is a routing hint of RudderStack's, not the message's identity."""
    message = rudder_message("track", event="Clicked")
    message["anonymousId"] = ""
    header = base64.b64encode(b"a1b2c3d4-anon").decode()
    answer = collector(
        http_event(path="/v1/track", body=message,
                   headers={**basic_auth(WRITE_KEY), "anonymousid": header})
    )  # fmt: skip
    assert answer["statusCode"] == 400
    assert "anonymousId" in answer_json(answer)["message"]
    [kept] = quarantined(dynamodb, table_names["QUARANTINE_TABLE"])
    assert "anonymousId" in kept["reason"]["S"]


def test_client_habits_are_read_as_meant(
    collector: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    """Mobile libraries say some things their own way: RudderStack's name a screen in `event`
    and `properties.name`, analytics-kotlin sends `"category": ""`, analytics-swift aliases
    an anonymous device without a `previousId`."""
    batch = [
        {"type": "screen", "anonymousId": "dev-1", "messageId": "s-1", "event": "Basket",
         "properties": {"name": "Basket"}, "channel": "mobile"},
        {"type": "screen", "anonymousId": "dev-1", "messageId": "s-2", "name": "Home",
         "category": ""},
        {"type": "alias", "anonymousId": "dev-1", "userId": "swift-user", "messageId": "a-1"},
    ]  # fmt: skip
    answer = collector(
        http_event(path="/v1/batch", headers=basic_auth(WRITE_KEY), body={"batch": batch})
    )
    assert answer["statusCode"] == 200, answer["body"]
    assert "rejected" not in answer_json(answer)
    items = {
        item["sk"]["S"]: item
        for item in dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"]
    }
    assert items["s-1"]["name"] == {"S": "Basket"}
    stored = {m["messageId"]: m for m in stored_events(dynamodb, table_names["EVENTS_TABLE"])}
    assert "category" not in stored["s-2"]
    assert stored["a-1"]["previousId"] == "dev-1"
