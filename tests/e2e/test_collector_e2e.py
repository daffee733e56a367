"""The collector in `cdp dev`, fed by real Segment libraries."""

from __future__ import annotations

import base64
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import requests
from segment.analytics.client import Client

from tests.e2e.conftest import ROOT, WRITE_KEY, DevStack, start_dev, stop_dev

pytestmark = pytest.mark.e2e


def count_by_id(stack: DevStack) -> Counter[str]:
    return Counter(message["messageId"] for message in stack.stored_messages())


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_analytics_python_messages_are_stored_exactly_once(
    dev_stack: DevStack, gzip: bool
) -> None:
    # given the real Python library, pointed at cdp dev instead of Segment
    errors: list[Exception] = []
    client = Client(
        write_key=WRITE_KEY,
        host=dev_stack.url,
        gzip=gzip,
        on_error=lambda error, _: errors.append(error),
        max_retries=2,
    )
    user = f"user-gzip-{gzip}"

    # when it sends every kind of call, batched by the library
    sent = [
        client.page(anonymous_id=f"anon-{user}", name="Home", properties={"path": "/"})[1],
        client.identify(user, {"email": f"{user}@example.com", "plan": "pro"})[1],
        client.track(user, "Order Completed", {"revenue": 42.5, "currency": "EUR"})[1],
        client.screen(user, name="Settings")[1],
        client.group(user, "acme", {"name": "ACME"})[1],
        client.alias(previous_id=f"anon-{user}", user_id=user)[1],
    ]
    client.flush()
    client.shutdown()

    # then each message is in the events table exactly once, with what was sent
    assert errors == []
    counts = count_by_id(dev_stack)
    assert all(counts[message["messageId"]] == 1 for message in sent)
    stored = {m["messageId"]: m for m in dev_stack.stored_messages()}
    order = stored[sent[2]["messageId"]]
    assert order["event"] == "Order Completed"
    assert order["properties"] == {"revenue": 42.5, "currency": "EUR"}
    assert order["context"]["library"]["name"] == "analytics-python"
    assert "writeKey" not in order
    assert stored[sent[1]["messageId"]]["traits"]["email"] == f"{user}@example.com"
    assert stored[sent[5]["messageId"]]["previousId"] == f"anon-{user}"


def test_sync_mode_sends_each_call_on_its_own(dev_stack: DevStack) -> None:
    client = Client(write_key=WRITE_KEY, host=dev_stack.url, sync_mode=True)
    _, message = client.track("sync-user", "Signed Up")
    assert count_by_id(dev_stack)[message["messageId"]] == 1


def test_a_retried_batch_is_stored_once(dev_stack: DevStack) -> None:
    batch = {
        "writeKey": WRITE_KEY,
        "batch": [
            {
                "type": "track",
                "userId": "retry-user",
                "event": "Clicked",
                "messageId": f"retry-{n}",
                "timestamp": "2026-11-23T08:00:00.000Z",
            }
            for n in range(3)
        ],
    }
    for sent_at in ("2026-11-23T08:00:01Z", "2026-11-23T08:00:09Z"):
        answer = requests.post(
            f"{dev_stack.url}/v1/batch", data=json.dumps({**batch, "sentAt": sent_at}), timeout=10
        )
        assert answer.status_code == 200
    counts = count_by_id(dev_stack)
    assert [counts[f"retry-{n}"] for n in range(3)] == [1, 1, 1]


def test_basic_auth_and_text_plain_bodies(dev_stack: DevStack) -> None:
    token = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    answer = requests.post(
        f"{dev_stack.url}/v1/t",
        data=json.dumps({"anonymousId": "browser-1", "event": "Viewed", "messageId": "plain-1"}),
        headers={"Authorization": f"Basic {token}", "Content-Type": "text/plain"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert count_by_id(dev_stack)["plain-1"] == 1


@pytest.mark.parametrize(
    ("path", "data", "headers", "status"),
    [
        ("/v1/track", '{"userId": "u", "event": "x"}', {}, 401),
        (
            "/v1/track",
            "{broken",
            {"Authorization": "Basic " + base64.b64encode(b"wk_e2e_tests:").decode()},
            400,
        ),
        ("/v1/batch", json.dumps({"writeKey": WRITE_KEY, "batch": [{"type": "track"}]}), {}, 400),
        ("/v1/batch", "x" * (600 * 1024), {}, 413),
        ("/v1/unknown", "{}", {}, 404),
    ],
)
def test_malformed_requests_get_a_clear_4xx(
    dev_stack: DevStack, path: str, data: str, headers: dict[str, str], status: int
) -> None:
    answer = requests.post(f"{dev_stack.url}{path}", data=data, headers=headers, timeout=10)
    assert answer.status_code == status
    body = answer.json()
    assert body["message"]
    assert "Traceback" not in answer.text


def test_segment_analytics_node_messages_are_stored_exactly_once(dev_stack: DevStack) -> None:
    script = Path(__file__).with_name("send_with_analytics_node.mjs")
    result = subprocess.run(
        ["node", str(script), dev_stack.url, WRITE_KEY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    sent_ids = json.loads(result.stdout)
    assert len(sent_ids) == 4
    counts = count_by_id(dev_stack)
    assert [counts[message_id] for message_id in sent_ids] == [1, 1, 1, 1]


def test_ctrl_c_stops_cdp_dev_cleanly() -> None:
    stack = start_dev()
    assert requests.get(f"{stack.url}/health", timeout=5).json()["status"] == "ok"
    code, output = stop_dev(stack)
    assert code == 0
    assert "cdp dev is running" in output
    assert "cdp dev stopped" in output
    assert "Traceback" not in output


def test_the_request_log_says_what_an_operator_needs_and_no_more(dev_stack: DevStack) -> None:
    # a CORS preflight, a typo in a route, and a lookup that names a person
    requests.options(
        f"{dev_stack.url}/v1/batch",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    requests.get(f"{dev_stack.url}/v1/profiles/user_id:ada-42/evnts", timeout=5)
    requests.get(f"{dev_stack.url}/v1/profile/ada%40example.com", timeout=5)
    requests.post(f"{dev_stack.url}/v1/bacth?writeKey=wk_secret_1", timeout=5)
    expected = (
        "OPTIONS /v1/batch 204",  # the method as received, the route pattern
        "GET (no route: /v1/profiles/*/evnts) 404",
        "GET (no route: /v1/profile/*) 404",
        "POST (no route: /v1/bacth) 404",
    )
    log = dev_stack.output_with(*expected)
    for line in expected:
        assert line in log
    for private in ("ada-42", "ada%40example.com", "ada@example.com", "wk_secret_1"):
        assert private not in log
