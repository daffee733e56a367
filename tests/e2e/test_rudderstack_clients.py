"""RudderStack's own libraries, unchanged, against `cdp dev`: rudder-sdk-python,
@rudderstack/rudder-sdk-node, and @rudderstack/analytics-js (v3) in headless Chromium on a
page of another origin. Each sends anonymous events, an identify with traits, an order, an
alias and a resend, through a proxy that loses the first answer (so each library sends a
request again that was already stored), and each ends with the profile and the timeline a
user expects: one person, the traits, every event once, with the device's own time."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from tests.e2e.conftest import ROOT, SECRET_KEY, WRITE_KEY, DevStack, start_dev, stop_dev
from tests.e2e.lossy_proxy import LossyProxy
from workbench.local.aws import free_port

pytestmark = pytest.mark.e2e

PAGE_ORIGIN_HOST = "localhost"  # the API is at 127.0.0.1: another origin for the browser


@pytest.fixture(scope="module")
def page_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(page_port: int) -> Iterator[DevStack]:
    stack = start_dev("--allowed-origins", f"http://{PAGE_ORIGIN_HOST}:{page_port}")
    yield stack
    code, output = stop_dev(stack)
    assert code == 0, output


def api(stack: DevStack, path: str, **query: str) -> Any:
    answer = requests.get(
        f"{stack.url}{path}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        params=query,
        timeout=10,
    )
    return answer.json() if answer.status_code == 200 else None


def settled_profile(stack: DevStack, identity: str, events: int, timeout: float = 30) -> Any:
    """The person's profile once the stream has applied `events` events, and their timeline."""
    quoted = requests.utils.quote(identity, safe="")
    deadline = time.monotonic() + timeout
    found: Any = None
    while time.monotonic() < deadline:
        found = api(stack, f"/v1/profiles/{quoted}")
        if found and found["event_count"] >= events:
            timeline = api(stack, f"/v1/profiles/{quoted}/events", limit="100")
            return found, timeline["events"]
        time.sleep(0.25)
    raise AssertionError(f"{identity} did not reach {events} events in {timeout} s: {found}")


def identities(profile: dict[str, Any]) -> set[str]:
    return {f"{entry['type']}:{entry['value']}" for entry in profile["identities"]}


def assert_one_person_every_event_once(
    stack: DevStack,
    *,
    user_id: str,
    anonymous_id: str,
    sent: dict[str, str],  # messageId -> the originalTimestamp the library sent
    traits: dict[str, Any],
) -> list[dict[str, Any]]:
    profile, timeline = settled_profile(stack, f"user_id:{user_id}", len(sent))
    # one person, known by every identifier, with the identify's traits
    assert {f"user_id:{user_id}", f"anonymous_id:{anonymous_id}"} <= identities(profile)
    assert (
        api(stack, f"/v1/profiles/anonymous_id:{anonymous_id}")["profile_id"]
        == (profile["profile_id"])
    )
    for name, value in traits.items():
        assert profile["traits"][name] == value, name
    # every message once, on the timeline, counted once
    counts = Counter(event["messageId"] for event in timeline)
    assert counts == Counter(dict.fromkeys(sent, 1)), counts
    assert profile["event_count"] == len(sent)
    # each with the device's own time
    for event in timeline:
        assert _same_instant(event["originalTimestamp"], sent[event["messageId"]]), event
    stored = Counter(message["messageId"] for message in stack.stored_messages())
    assert all(stored[message_id] == 1 for message_id in sent)
    return timeline


def _same_instant(first: str, second: str) -> bool:
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return abs(parse(first) - parse(second)) < timedelta(milliseconds=1)


def test_rudder_sdk_python_through_a_lost_answer(stack: DevStack) -> None:
    from rudderstack.analytics.client import Client

    run = uuid.uuid4().hex[:8]
    user, anonymous = f"rs-py-{run}", f"rs-py-anon-{run}"
    errors: list[Any] = []
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    with LossyProxy(stack.url, lose=1).running() as proxy:
        client = Client(
            write_key=WRITE_KEY,
            host=proxy.url,
            on_error=lambda error, _: errors.append(error),
            max_retries=3,
            upload_interval=0.1,
        )
        at = partial(lambda minutes: two_hours_ago + timedelta(minutes=minutes))
        calls = [
            client.page(anonymous_id=anonymous, name="Pricing", timestamp=at(0)),
            client.track(anonymous_id=anonymous, event="Trial Started", timestamp=at(1)),
            client.identify(
                user,
                {"email": f"{user}@example.com", "plan": "pro"},
                anonymous_id=anonymous,
                timestamp=at(2),
            ),
            client.track(
                user, "Order Completed", {"revenue": 42.5, "currency": "EUR"}, timestamp=at(3)
            ),
            client.alias(previous_id=anonymous, user_id=user, timestamp=at(4)),
        ]
        order = calls[3][1]
        # the same order sent again, by the library, with its messageId
        client.track(user, "Order Completed", order["properties"], timestamp=at(3),
                     message_id=order["messageId"])  # fmt: skip
        client.flush()
        client.shutdown()
    assert errors == []
    assert proxy.lost == ["/v1/batch"]  # an answer was lost, and the library sent again
    sent = {message["messageId"]: message["timestamp"] for _, message in calls}
    timeline = assert_one_person_every_event_once(
        stack,
        user_id=user,
        anonymous_id=anonymous,
        sent=sent,
        traits={"email": f"{user}@example.com", "plan": "pro"},
    )
    assert {event.get("channel") for event in timeline} == {"server"}
    [revenue] = [
        e["properties"]["revenue"] for e in timeline if e.get("event") == "Order Completed"
    ]
    assert revenue == 42.5


def test_rudder_sdk_node_through_a_lost_answer(stack: DevStack) -> None:
    run = uuid.uuid4().hex[:8]
    with LossyProxy(stack.url, lose=1).running() as proxy:
        result = subprocess.run(
            ["node", str(Path(__file__).with_name("send_with_rudder_node.mjs")),
             proxy.url, WRITE_KEY, run],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failures"] == []
    assert proxy.lost == ["/v1/batch"]
    sent = {m["messageId"]: m["originalTimestamp"] for m in report["messages"]}
    assert len(sent) == 5  # six sends, the order twice
    assert_one_person_every_event_once(
        stack,
        user_id=f"rs-node-{run}",
        anonymous_id=f"rs-node-anon-{run}",
        sent=sent,
        traits={"email": f"rs-node-{run}@example.com", "plan": "team"},
    )


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title><link rel="icon" href="data:,"></head>
<body>
<script type="module">
  import { RudderAnalytics } from "/rudderstack/index.mjs";
  const analytics = new RudderAnalytics();
  window.rudderanalytics = analytics;
  analytics.load("__WRITE_KEY__", "__DATA_PLANE__", {
    configUrl: "__CONFIG_URL__",
    logLevel: "ERROR",
    queueOptions: { minRetryDelay: 300, maxRetryDelay: 1000, batch: { enabled: false } },
    plugins: ["XhrQueue"],
    onLoaded: () => { window.rudderLoaded = true; },
  });
</script></body></html>
"""


@pytest.fixture(scope="module")
def shop(page_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A site on another origin (localhost, not 127.0.0.1) serving a page and the SDK."""
    site = tmp_path_factory.mktemp("site")
    bundle = ROOT / "node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/esm"
    (site / "rudderstack").symlink_to(bundle, target_is_directory=True)
    handler = partial(_QuietFiles, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", page_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_rudderstack_analytics_js_v3_from_another_origin(
    stack: DevStack, browser: Any, shop: Path, page_port: int
) -> None:
    run = uuid.uuid4().hex[:8]
    user = f"rs-js-{run}"
    with LossyProxy(stack.url, lose=1, path_prefix="/v1/").running() as proxy:
        (shop / f"{run}.html").write_text(
            PAGE.replace("__WRITE_KEY__", WRITE_KEY)
            .replace("__DATA_PLANE__", proxy.url)
            .replace("__CONFIG_URL__", proxy.url)
        )
        context = browser.new_context()
        page = context.new_page()
        failures: list[str] = []
        page.on("pageerror", lambda error: failures.append(str(error)))
        page.on("console", lambda m: failures.append(m.text) if m.type == "error" else None)
        page.goto(f"http://{PAGE_ORIGIN_HOST}:{page_port}/{run}.html")
        page.wait_for_function("() => window.rudderLoaded === true", timeout=20_000)
        anonymous = page.evaluate("() => window.rudderanalytics.getAnonymousId()")
        page.evaluate(
            """([user]) => {
              const a = window.rudderanalytics;
              a.page("Shop", "Pricing", { path: "/pricing" });
              a.track("Trial Started", { plan: "pro" });
              a.identify(user, { email: user + "@example.com", plan: "pro" });
              a.track("Order Completed", { revenue: 19.5, currency: "EUR" });
              a.alias(user);
            }""",
            [user],
        )
        # every message delivered, one lost answer retried, before the page is left
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            posted = [line for line in proxy.forwarded if line.startswith("POST /v1/")]
            if len(posted) >= 6 and proxy.lost:
                break
            page.wait_for_timeout(250)
        context.close()
    assert failures == [], failures
    assert proxy.lost, "the proxy lost no answer"
    assert any(line.startswith("GET /sourceConfig/") for line in proxy.forwarded)
    # what the SDK sent, as it went over the wire (each message in its own request)
    messages = [json.loads(body) for body in proxy.posted]
    sent = {m["messageId"]: m["originalTimestamp"] for m in messages}
    assert sorted(m["type"] for m in {m["messageId"]: m for m in messages}.values()) == [
        "alias", "identify", "page", "track", "track"]  # fmt: skip
    assert len(messages) > len(sent)  # the message whose answer was lost, sent again
    timeline = assert_one_person_every_event_once(
        stack,
        user_id=user,
        anonymous_id=anonymous,
        sent=sent,
        traits={"email": f"{user}@example.com", "plan": "pro"},
    )
    assert {event["channel"] for event in timeline} == {"web"}
    before = [e for e in timeline if e["type"] in {"page", "track"} and "userId" not in e]
    assert len(before) == 2  # sent with "userId": "" before identify, stored as anonymous


def test_rudderstack_analytics_js_v3_beacon_transport(
    stack: DevStack, browser: Any, shop: Path, page_port: int
) -> None:
    """With `useBeacon`, the SDK sends batches with navigator.sendBeacon to
    /beacon/v1/batch, its write key in the query (a beacon cannot set headers)."""
    run = uuid.uuid4().hex[:8]
    user = f"rs-beacon-{run}"
    with LossyProxy(stack.url, lose=0).running() as proxy:
        (shop / f"{run}.html").write_text(
            PAGE.replace("__WRITE_KEY__", WRITE_KEY)
            .replace("__DATA_PLANE__", proxy.url)
            .replace("__CONFIG_URL__", proxy.url)
            .replace(
                'plugins: ["XhrQueue"]',
                'plugins: ["BeaconQueue"], useBeacon: true, '
                "beaconQueueOptions: { flushQueueInterval: 300 }",
            )
        )
        context = browser.new_context()
        page = context.new_page()
        failures: list[str] = []
        page.on("pageerror", lambda error: failures.append(str(error)))
        page.goto(f"http://{PAGE_ORIGIN_HOST}:{page_port}/{run}.html")
        page.wait_for_function("() => window.rudderLoaded === true", timeout=20_000)
        page.evaluate(
            """([user]) => {
              const a = window.rudderanalytics;
              a.page("Shop", "Home");
              a.identify(user, { email: user + "@example.com" });
              a.track("Order Completed", { revenue: 5 });
            }""",
            [user],
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            line.startswith("POST /beacon/v1/batch") for line in proxy.forwarded
        ):
            page.wait_for_timeout(250)
        page.goto("about:blank")  # leaving the page flushes what is queued
        context.close()
    assert failures == [], failures
    assert any(line.startswith("POST /beacon/v1/batch") for line in proxy.forwarded)
    profile, timeline = settled_profile(stack, f"user_id:{user}", 3)
    assert profile["traits"]["email"] == f"{user}@example.com"
    assert sorted(event["type"] for event in timeline) == ["identify", "page", "track"]
