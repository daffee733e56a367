"""What leaves the platform, locally: every event the publisher puts on the (moto) bus is
routed by a rule to a queue, printed in one line, and, when `cdp dev --webhook URL` is given,
POSTed there signed with an HMAC, so a receiver can check it came from us. Deliveries go to
this machine or a public host only, never by a redirect, and the host is resolved again before
each one (`cdp.sharing.urls`).

Signature: `X-CDP-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
webhook secret; receivers should also refuse old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from cdp.sharing.changes import SOURCE
from cdp.sharing.urls import resolved_problem
from workbench.local.aws import queue_arn
from workbench.local.worker import Worker


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the failure it is here: following it would deliver to a host
    that was never checked."""

    def redirect_request(self, *_: object, **__: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def connect_tap(events: Any, sqs: Any, bus: str, name: str) -> str:
    """A rule sending every platform event on `bus` to a new queue; answers its URL."""
    queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = queue_arn(queue_url)
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return queue_url


class BusTap(Worker):
    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        webhook: str | None,
        secret: str,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__("bus-tap", label="bus tap")
        self.sqs = sqs
        self.queue_url = queue_url
        self.webhook = webhook
        self.secret = secret
        self.say = log or (lambda line: print(line, flush=True))
        self.delivered = 0

    def step(self) -> None:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in answer.get("Messages", []):
            if self._forward(message["Body"]):
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def _forward(self, body: str) -> bool:
        event = json.loads(body)
        detail = event.get("detail", {})
        about = detail.get("segment_id") or detail.get("merged_into") or ""
        self.say(f"  event {event.get('detail-type')} profile={detail.get('profile_id')} {about}")
        if not self.webhook:
            return True
        problem = resolved_problem(self.webhook, allow_loopback=True)
        if problem:
            print(f"  webhook refused: {problem}", file=sys.stderr, flush=True)
            return False  # kept in the queue: the name may point somewhere public again
        data = body.encode()
        request = urllib.request.Request(  # noqa: S310 (a URL the developer gave us)
            self.webhook,
            data=data,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-CDP-Signature": signature(self.secret, data, int(time.time())),
            },
        )
        try:
            with _OPENER.open(request, timeout=5) as response:
                ok: bool = 200 <= response.status < 300
        except OSError as error:
            print(f"  webhook failed: {error}", file=sys.stderr, flush=True)
            return False  # kept in the queue: retried after its visibility timeout
        self.delivered += ok
        return ok
