"""Load without loss: many concurrent clients — Segment's Python library and raw HTTP, single
messages and batches — send a seeded workload to `cdp dev`. Afterwards every accepted event
is stored exactly once and every person's profile counts exactly what was sent.

`make test` runs a short form (CDP_LOAD_EVENTS, default 3,000 events); `make soak` the full
form (50,000) and writes its figures to CDP_LOAD_REPORT (docs/load.json).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from segment.analytics.client import Client

from cdp.runtime import tables
from tests.e2e.conftest import SECRET_KEY, WRITE_KEY, DevStack, start_dev, stop_dev
from workbench.local.aws import table_name

pytestmark = pytest.mark.e2e

EVENTS = int(os.environ.get("CDP_LOAD_EVENTS", "3000"))
REPORT = os.environ.get("CDP_LOAD_REPORT")
SEED = 20261123
RAW_CLIENTS = 8  # threads sending raw HTTP
BATCH = 20


@dataclass
class Person:
    """What one person does, and so what their profile must count."""

    user_id: str
    anonymous_id: str
    email: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    orders: list[float] = field(default_factory=list)
    lane: str = "raw"  # raw HTTP or Segment's library


def workload(total: int, seed: int = SEED) -> list[Person]:
    """Browsing anonymously, signing up (identify links the two), then ordering."""
    rng = random.Random(seed)
    now = datetime.now(UTC) - timedelta(hours=1)
    people: list[Person] = []
    count = 0
    while count < total:
        n = len(people)
        person = Person(
            user_id=f"load-user-{n}",
            anonymous_id=f"load-anon-{n}",
            email=f"load-{n}@example.com",
            lane="library" if rng.random() < 0.3 else "raw",
        )
        moment = now + timedelta(seconds=n)

        def message(
            kind: str, person: Person = person, moment: datetime = moment, **fields: Any
        ) -> None:
            at = moment + timedelta(milliseconds=len(person.messages))
            person.messages.append(
                {
                    "type": kind,
                    "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                    "timestamp": at.isoformat(),
                    **fields,
                }
            )

        for page in range(rng.randint(1, 8)):
            message("page", anonymousId=person.anonymous_id, name=f"Page {page}")
        message(
            "identify",
            userId=person.user_id,
            anonymousId=person.anonymous_id,
            traits={"email": person.email, "plan": rng.choice(["free", "pro"])},
        )
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            revenue = round(rng.uniform(5, 500), 2)
            person.orders.append(revenue)
            message("track", userId=person.user_id, event="Order Completed",
                    properties={"revenue": revenue})  # fmt: skip
        people.append(person)
        count += len(person.messages)
    return people


@dataclass
class Sent:
    accepted: int = 0
    retried_503: int = 0
    latencies: list[float] = field(default_factory=list)
    library_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_with_retries(
    session: requests.Session, url: str, body: dict[str, Any], sent: Sent
) -> None:
    """A well-behaved client: retry on 429, 5xx and lost connections, with backoff."""
    for attempt in range(8):
        started = time.perf_counter()
        try:
            answer = session.post(url, json=body, auth=(WRITE_KEY, ""), timeout=30)
        except requests.ConnectionError:
            time.sleep(0.1 * 2**attempt)
            continue
        with sent.lock:
            sent.latencies.append(time.perf_counter() - started)
        if answer.status_code == 200:
            return
        if answer.status_code in (429, 503) or answer.status_code >= 500:
            with sent.lock:
                sent.retried_503 += 1
            time.sleep(0.1 * 2**attempt)
            continue
        raise AssertionError(f"refused: {answer.status_code} {answer.text[:300]}")
    raise AssertionError("the API kept failing")


def send_raw(stack: DevStack, people: list[Person], sent: Sent) -> None:
    """Half the people message by message, half in batches of BATCH."""
    session_for = threading.local()

    def session() -> requests.Session:
        if not hasattr(session_for, "session"):
            session_for.session = requests.Session()
        return session_for.session  # type: ignore[no-any-return]

    def one_person(person: Person) -> None:
        if int(person.user_id.rsplit("-", 1)[1]) % 2:
            for message in person.messages:
                post_with_retries(session(), f"{stack.url}/v1/{message['type']}", message, sent)
        else:
            for start in range(0, len(person.messages), BATCH):
                chunk = person.messages[start : start + BATCH]
                post_with_retries(session(), f"{stack.url}/v1/batch", {"batch": chunk}, sent)
        with sent.lock:
            sent.accepted += len(person.messages)

    with ThreadPoolExecutor(RAW_CLIENTS) as pool:
        list(pool.map(one_person, people))


def send_with_library(stack: DevStack, people: list[Person], sent: Sent) -> None:
    def failed(error: Exception, batch: list[dict[str, Any]]) -> None:
        with sent.lock:
            sent.library_errors.append(f"{error!r} ({len(batch)} messages)")

    client = Client(write_key=WRITE_KEY, host=stack.url, on_error=failed, max_retries=8,
                    max_queue_size=1_000_000, upload_size=100, thread=2)  # fmt: skip
    for person in people:
        for message in person.messages:
            fields = {k: v for k, v in message.items() if k not in ("type", "messageId")}
            common = {"message_id": message["messageId"], "timestamp":
                      datetime.fromisoformat(fields.pop("timestamp"))}  # fmt: skip
            if message["type"] == "page":
                client.page(anonymous_id=fields["anonymousId"], name=fields["name"], **common)
            elif message["type"] == "identify":
                client.identify(fields["userId"], fields["traits"],
                                anonymous_id=fields["anonymousId"], **common)  # fmt: skip
            else:
                client.track(fields["userId"], fields["event"], fields["properties"], **common)
    client.flush()
    client.join()
    with sent.lock:
        sent.accepted += sum(len(p.messages) for p in people)


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    started = start_dev("--scheduler-seconds", "3600")
    yield started
    code, output = stop_dev(started)
    assert code == 0, output[-3000:]


def profile(session: requests.Session, stack: DevStack, user_id: str) -> dict[str, Any] | None:
    answer = session.get(
        f"{stack.url}/v1/profiles/user_id%3A{user_id}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=30,
    )
    return answer.json() if answer.status_code == 200 else None


def complete(person: Person, found: dict[str, Any] | None) -> bool:
    return found is not None and found["event_count"] == len(person.messages)


def test_a_burst_of_concurrent_clients_loses_and_doubles_nothing(stack: DevStack) -> None:
    people = workload(EVENTS)
    total = sum(len(p.messages) for p in people)
    sent = Sent()
    started = time.perf_counter()
    library = threading.Thread(
        target=send_with_library, args=(stack, [p for p in people if p.lane == "library"], sent)
    )
    library.start()
    send_raw(stack, [p for p in people if p.lane == "raw"], sent)
    library.join()
    send_seconds = time.perf_counter() - started

    assert sent.library_errors == []
    assert sent.accepted == total
    # every accepted event stored exactly once (one item per message: retries overwrite)
    dynamodb = stack.dynamodb()
    stored = dynamodb.describe_table(TableName=table_name(tables.EVENTS))["Table"]["ItemCount"]
    assert stored == total
    quarantined = dynamodb.describe_table(TableName=table_name(tables.QUARANTINE))["Table"]
    assert quarantined["ItemCount"] == 0

    # every profile counts exactly what its person did, once the stream has been worked off
    session = requests.Session()
    # (one person asked at a time, until they are complete: asking everyone again every
    # second slowed the very pipeline it waited for)
    waiting = list(people)
    # (a guard against a hang, not a speed target: `make soak` reports the speed)
    deadline = time.monotonic() + max(300, total / 10)
    while waiting and time.monotonic() < deadline:
        if complete(waiting[0], profile(session, stack, waiting[0].user_id)):
            waiting.pop(0)
        else:
            time.sleep(0.2)
    drained_seconds = time.perf_counter() - started
    assert waiting == [], f"{len(waiting)} profiles incomplete, e.g. {waiting[0].user_id}"
    for person in people:
        found = profile(session, stack, person.user_id)
        assert found is not None
        identities = {(i["type"], i["value"]) for i in found["identities"]}
        assert {("anonymous_id", person.anonymous_id), ("email", person.email)} <= identities
        assert found["event_count"] == len(person.messages)
        assert found["computed"]["orders"] == len(person.orders)
        assert found["computed"]["revenue"] == pytest.approx(sum(person.orders))

    if REPORT:
        latencies = sorted(sent.latencies)
        figures = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "events": total,
            "people": len(people),
            "clients": f"{RAW_CLIENTS} raw HTTP threads + segment-analytics-python (2 threads)",
            "send_seconds": round(send_seconds, 1),
            "events_per_second": round(total / send_seconds),
            "requests_timed": len(latencies),
            "latency_ms": {
                "p50": round(1000 * statistics.median(latencies), 1),
                "p95": round(1000 * latencies[int(0.95 * len(latencies))], 1),
                "p99": round(1000 * latencies[int(0.99 * len(latencies))], 1),
            },
            "answers_503_retried": sent.retried_503,
            "all_profiles_complete_after_seconds": round(drained_seconds, 1),
            "stored_exactly_once": stored == total,
            "lost": total - stored,
        }
        Path(REPORT).write_text(json.dumps(figures, indent=2) + "\n")
