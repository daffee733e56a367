"""Segments in `cdp dev`: a marketer defines one, people move in and out, and a webhook hears
of every change, signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
from segment.analytics.client import Client

from tests.e2e.conftest import SECRET_KEY, WEBHOOK_SECRET, WRITE_KEY, DevStack, start_dev, stop_dev
from workbench.local.aws import free_port

pytestmark = pytest.mark.e2e


class Receiver:
    """A webhook endpoint that keeps what it receives, with whether the signature held."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], bool]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    (json.loads(body), verify(self.headers["X-CDP-Signature"], body))
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cdp"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, kind: str, profile_id: str | None = None) -> list[dict[str, Any]]:
        return [
            event
            for event, _ in self.received
            if event["detail-type"] == kind and profile_id in (None, event["detail"]["profile_id"])
        ]


def verify(header: str, body: bytes) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return (
        hmac.compare_digest(parts["v1"], expected.hexdigest())
        and abs(time.time() - int(parts["t"])) < 300
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="module")
def stack(receiver: Receiver) -> Iterator[DevStack]:
    stack = start_dev("--webhook", receiver.url, "--webhook-secret", WEBHOOK_SECRET)
    yield stack
    code, output = stop_dev(stack)
    assert code == 0, output


def api(stack: DevStack, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    return requests.request(method, f"{stack.url}{path}", headers=headers, timeout=15, **kwargs)


def eventually(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("not within the time allowed")


def test_people_move_in_and_out_and_the_webhook_hears_it(
    stack: DevStack, receiver: Receiver
) -> None:
    user = f"buyer-{uuid.uuid4().hex[:8]}"
    # given a marketer's segment: bought in the last 30 days and not a VIP
    segment = {
        "id": "recent-buyers",
        "name": "Bought in the last 30 days",
        "condition": {
            "all": [{"computed": "orders_30d", "gte": 1}, {"not": {"trait": "vip", "eq": True}}]
        },
    }
    assert api(stack, "PUT", "/v1/segments/recent-buyers", json=segment).status_code == 200

    # when a person orders, they enter it
    client = Client(write_key=WRITE_KEY, host=stack.url, sync_mode=True)
    client.identify(user, {"email": f"{user}@example.com"})
    client.track(user, "Order Completed", {"revenue": 30})
    profile = eventually(
        lambda: (
            (p := api(stack, "GET", f"/v1/profiles/user_id:{user}").json()).get("segments") and p
        )
    )
    assert profile["segments"] == ["recent-buyers"]
    entered = eventually(lambda: receiver.events("segment.entered", profile["profile_id"]))
    assert entered[0]["detail"]["identities"] == {
        "user_id": user,
        "emails": [f"{user}@example.com"],
    }

    # when they become a VIP, they leave it (an event moves them out)
    client.identify(user, {"vip": True})
    eventually(lambda: receiver.events("segment.exited", profile["profile_id"]))
    client.identify(user, {"vip": False})
    eventually(lambda: len(receiver.events("segment.entered", profile["profile_id"])) == 2)

    # when 31 days pass without an order, time alone moves them out
    assert api(stack, "POST", "/_dev/clock", json={"advance_days": 31}).status_code == 200
    assert (
        requests.post(f"{stack.url}/_dev/scheduler", timeout=30).json()["scheduler"]["exited"] == 1
    )
    eventually(lambda: len(receiver.events("segment.exited", profile["profile_id"])) == 2)

    # and every delivery was signed with the webhook secret
    assert receiver.received
    assert all(signed for _, signed in receiver.received)
    members = api(stack, "GET", "/v1/segments/recent-buyers").json()
    assert members["members"] == 0
    explained = api(
        stack, "GET", f"/v1/profiles/user_id:{user}/segments/recent-buyers/explain"
    ).json()
    assert explained["member"] is False
    assert explained["condition"]["all"][0] == {
        "computed": "orders_30d",
        "gte": 1,
        "actual": 0,
        "holds": False,
    }
