"""The console's 360-degree view of a person with 10,000 events, against `cdp dev` (issue
target: it opens in under a second).

    python -m bench.console [--events N] [--tries N] [--budget S] [--browser-tries N]
                            [--no-browser] [--record bench/results.json]

`cdp dev` runs as a subprocess, as in `bench/memory.py`. One person gets `--events` events the
way a website's client sends them: an anonymous visit, a sign-up (an identify linking the two
ids), then months of page views, product views, carts and orders, sent to `POST /v1/batch` a
hundred messages a request, one request after another; the pipeline works them off. Then:

- **API**: `GET /console/api/profiles/{identity}` (the sheet) and the first page of the
  timeline, `GET /console/api/profiles/{identity}/events?limit=25`, each asked `--tries` times
  after a warm-up (fewer when one role's tries have taken `--budget` seconds; at least five),
  signed in as an editor (whole, every view written to the audit log) and as a viewer
  (masked). Wall time at the client, over a kept-alive connection: the local gateway, its JWT
  check, the function and moto answering, as the page waits for them.
- **Where the time goes**: the events table's queries the timeline makes (one or more per
  identity the person is filed under), asked of `cdp dev`'s moto as the function asks them,
  with the items and queries each took, the time of one query that finds nothing (what
  moto takes per query, whatever it answers), and of reading only the page's 25 events by
  their keys (one `BatchGetItem`).
- **Browser**: headless Chromium (Playwright) signed in through the sign-in form, opening the
  profile's URL `--browser-tries` times: from the start of the navigation (the document's
  `performance.timeOrigin`) to the first frame drawn with the sheet and the first page of the
  timeline in it (the timeline's status line says how many events are shown); with the
  page's own resource timings, how much of it was the timeline's request.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.memory import drain
from tests.e2e.conftest import (
    CHROMIUM_FLAGS,
    SECRET_KEY,
    WRITE_KEY,
    DevStack,
    start_dev,
    stop_dev,
)
from tests.e2e.test_console_e2e import sign_in, sign_in_page

TARGET_MS = 1000
PAGE = 25  # the events the console's page asks for at a time (console/src/profile.js)
PER_REQUEST = 100  # messages per batch request, as analytics libraries send them
USER_ID = "bench-shopper-1"
ANONYMOUS_ID = "bench-anon-1"
EMAIL = "shopper@example.com"
PRODUCTS = [f"sku-{n:03d}" for n in range(40)]


def measure(
    events: int = 10_000,
    *,
    tries: int = 20,
    budget: float = 30.0,
    browser_tries: int = 3,
    browser: bool = True,
) -> dict[str, Any]:
    """The whole scenario against a fresh `cdp dev`; answer the figures (milliseconds)."""
    began = time.monotonic()
    load = [round(x, 2) for x in os.getloadavg()]
    stack = start_dev("--scheduler-seconds", "3600")
    seconds: dict[str, float] = {}
    try:
        messages = history(events)
        started = time.monotonic()
        send(stack, messages)
        seconds["send"] = round(time.monotonic() - started, 1)
        drain(requests.Session(), stack.url, timeout=max(300, events / 10))
        stored = _profile(stack)
        seconds["drain"] = round(time.monotonic() - started - seconds["send"], 1)
        if stored["event_count"] != len(messages):
            raise RuntimeError(f"{stored['event_count']} of {len(messages)} events counted")

        identity = f"user_id:{USER_ID}"
        api = {
            role: _api_times(stack, role, identity, tries, budget) for role in ("editor", "viewer")
        }
        partitions = [f"{i['type']}:{i['value']}" for i in stored["identities"]]
        found: dict[str, Any] = {
            "events": len(messages),
            "identities": len(partitions),
            "api": api,
            "sizes": _sizes(stack, identity),
            "reads": _reads(stack, partitions),
        }
        if browser:
            found["browser"] = {
                role: _browser_times(stack, role, identity, browser_tries)
                for role in ("editor", "viewer")
            }
            found["browser_tries"] = browser_tries
    finally:
        code, output = stop_dev(stack)
    if code != 0:
        raise RuntimeError(f"cdp dev did not stop cleanly:\n{output[-3000:]}")
    seconds["total"] = round(time.monotonic() - began, 1)
    return {
        **found,
        "seconds": seconds,
        "target_ms": TARGET_MS,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": load,
    }


def history(events: int, seed: int = 17) -> list[dict[str, Any]]:
    """One shopper's `events` messages over the last 180 days, oldest first: an anonymous
    visit, the sign-up, then sessions of browsing with now and then an order."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible workload, not a secret)
    now = datetime.now(UTC) - timedelta(hours=1)
    moment = now - timedelta(days=180)
    step = timedelta(days=180) / events
    messages: list[dict[str, Any]] = []

    def message(kind: str, **fields: Any) -> None:
        at = moment + step * len(messages)
        messages.append(
            {
                "type": kind,
                "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                "timestamp": at.isoformat(),
                "context": {
                    "page": {"url": "https://shop.example.com/", "title": "Shop"},
                    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
                },
                **fields,
            }
        )

    for number in range(min(10, events - 1)):
        message("page", anonymousId=ANONYMOUS_ID, name=f"Landing {number}")
    message(
        "identify",
        userId=USER_ID,
        anonymousId=ANONYMOUS_ID,
        traits={"email": EMAIL, "first_name": "Ada", "plan": "pro"},
    )
    person = {"userId": USER_ID, "anonymousId": ANONYMOUS_ID}
    while len(messages) < events:
        roll = rng.random()
        product = rng.choice(PRODUCTS)
        if roll < 0.55:
            message("page", name=rng.choice(["Home", "Category", "Search", "Help"]), **person)
        elif roll < 0.85:
            message("track", event="Product Viewed", properties={"product_id": product}, **person)
        elif roll < 0.97:
            message("track", event="Product Added", properties={"product_id": product}, **person)
        else:
            revenue = round(rng.uniform(5, 300), 2)
            message(
                "track",
                event="Order Completed",
                properties={"order_id": f"o-{len(messages)}", "revenue": revenue},
                **person,
            )
    return messages


def send(stack: DevStack, messages: list[dict[str, Any]]) -> None:
    """Oldest first, `PER_REQUEST` a request, one request after another, retrying as a
    well-behaved client does."""
    session = requests.Session()
    for start in range(0, len(messages), PER_REQUEST):
        batch = messages[start : start + PER_REQUEST]
        body: dict[str, Any] = {"batch": batch, "sentAt": datetime.now(UTC).isoformat()}
        for attempt in range(8):
            answer = session.post(
                f"{stack.url}/v1/batch", json=body, auth=(WRITE_KEY, ""), timeout=60
            )
            if answer.status_code == 200:
                break
            if answer.status_code != 429 and answer.status_code < 500:
                raise RuntimeError(f"refused: {answer.status_code} {answer.text[:300]}")
            time.sleep(0.1 * 2**attempt)
        else:
            raise RuntimeError("the collector kept failing")


def _profile(stack: DevStack) -> dict[str, Any]:
    answer = requests.get(
        f"{stack.url}/v1/profiles/user_id:{USER_ID}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=60,
    )
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def _api_times(
    stack: DevStack, role: str, identity: str, tries: int, budget: float
) -> dict[str, Any]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sign_in(stack, role)}"
    urls = {
        "sheet": f"{stack.url}/console/api/profiles/{identity}",
        "timeline": f"{stack.url}/console/api/profiles/{identity}/events?limit={PAGE}",
    }
    times: dict[str, list[float]] = {name: [] for name in urls}
    for url in urls.values():  # to warm up
        session.get(url, timeout=120).raise_for_status()
    started = time.monotonic()
    while len(times["sheet"]) < tries and (
        len(times["sheet"]) < 5 or time.monotonic() - started < budget
    ):
        # the page asks for the two one after the other: the sheet, then the timeline
        for name, url in urls.items():
            began = time.perf_counter()
            answer = session.get(url, timeout=120)
            times[name].append((time.perf_counter() - began) * 1000)
            answer.raise_for_status()
    together = [a + b for a, b in zip(times["sheet"], times["timeline"], strict=True)]
    return {name: _summary(values) for name, values in {**times, "both": together}.items()}


class _CountedQueries:
    """A DynamoDB client that counts the queries made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.queries = 0

    def query(self, **arguments: Any) -> Any:
        self.queries += 1
        return self.client.query(**arguments)


def _reads(stack: DevStack, partitions: list[str]) -> dict[str, Any]:
    """The timeline's reads of the events table, as the console function makes them (each
    the faster of two), and one query that finds nothing."""
    from cdp.runtime.tables import EVENTS
    from cdp.storage.events import EventReader
    from workbench.local.aws import client_for, table_name

    client = client_for(stack.aws_endpoint, "dynamodb")
    found: dict[str, Any] = {}
    for partition in sorted(partitions):
        counted = _CountedQueries(client)
        reader = EventReader(table_name(EVENTS), client=counted)
        times = []
        for _ in range(2):
            counted.queries = 0
            began = time.perf_counter()
            items = len(reader.positions(partition))
            times.append((time.perf_counter() - began) * 1000)
        stored = _stored_bytes(client, partition)
        found[partition.split(":", 1)[0]] = {
            "items": items,
            "queries": counted.queries,
            "ms": round(min(times), 1),
            "bytes": stored,
            # what AWS bills the query (eventually consistent: half a unit per 4 KB read)
            "read_units": math.ceil(stored / 4096) / 2,
        }
    nobody = EventReader(table_name(EVENTS), client=client)
    empty = []
    for _ in range(2):
        began = time.perf_counter()
        nobody.positions(f"user_id:nobody-{uuid.uuid4()}")
        empty.append((time.perf_counter() - began) * 1000)
    return {
        "by_identity": found,
        "empty_query_ms": round(min(empty), 1),
        "page_by_keys_ms": _page_by_keys(client, table_name(EVENTS), partitions),
    }


def _page_by_keys(client: Any, table: str, partitions: list[str]) -> float:
    """What reading only the page costs here: one `BatchGetItem` of the first page's 25
    events by their keys (the faster of two), as a timeline that knew them would."""
    from cdp.profiles.timeline import all_events
    from cdp.storage.events import EventReader

    newest = all_events(partitions, EventReader(table, client=client).positions)[:PAGE]
    keys = [{"pk": {"S": e.partition}, "sk": {"S": e.message_id}} for e in newest]
    times = []
    for _ in range(2):
        began = time.perf_counter()
        answer = client.batch_get_item(RequestItems={table: {"Keys": keys}})
        times.append((time.perf_counter() - began) * 1000)
        if len(answer["Responses"][table]) != len(keys):
            raise RuntimeError("the page's events were not all read back")
    return round(min(times), 1)


def _sizes(stack: DevStack, identity: str) -> dict[str, int]:
    """The answers' sizes as sent (bytes of JSON), an editor's."""
    token = sign_in(stack, "editor")
    headers = {"Authorization": f"Bearer {token}"}
    sheet = requests.get(
        f"{stack.url}/console/api/profiles/{identity}", headers=headers, timeout=60
    )
    timeline = requests.get(
        f"{stack.url}/console/api/profiles/{identity}/events?limit={PAGE}",
        headers=headers,
        timeout=60,
    )
    return {"sheet_bytes": len(sheet.content), "timeline_bytes": len(timeline.content)}


# The first frame drawn with the sheet (its heading names the person) and the first page of
# the timeline in it: the time since the navigation started, read in the page.
DRAWN = f"""() => {{
    const status = document.querySelector(".timeline ~ .status");
    const heading = document.querySelector("main h1");
    return status && /^{PAGE} events shown/.test(status.textContent)
        && heading && heading.textContent.startsWith("Profile: ")
        && document.querySelectorAll(".timeline .event").length === {PAGE}
        && performance.now();
}}"""


def _stored_bytes(client: Any, partition: str) -> int:
    """The size of every item under `partition` as DynamoDB counts it (a query reads whole
    items, whatever its projection)."""
    from bench.capacity import item_size
    from cdp.runtime.tables import EVENTS
    from workbench.local.aws import table_name

    pages = client.get_paginator("query").paginate(
        TableName=table_name(EVENTS),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": partition}},
    )
    return sum(item_size(item) for page in pages for item in page["Items"])


# When the page asked for the timeline's first page and when the answer had come, since the
# navigation started.
TIMELINE_REQUEST = """() => {
    const [request] = performance.getEntriesByType("resource")
        .filter((entry) => entry.name.includes("/events?"));
    return [request.startTime, request.responseEnd];
}"""


def _browser_times(stack: DevStack, role: str, identity: str, tries: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import chromium_path

    path = f"/console/profiles/{identity}"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            context = chromium.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            sign_in_page(page, stack, role, path)
            page.wait_for_function(DRAWN, timeout=60_000)
            times: list[float] = []
            parts: dict[str, list[float]] = {"before": [], "timeline_request": [], "after": []}
            for _ in range(tries):
                page.goto(f"{stack.url}{path}")
                drawn = float(
                    page.wait_for_function(DRAWN, polling="raf", timeout=60_000).json_value()
                )
                times.append(drawn)
                started, ended = page.evaluate(TIMELINE_REQUEST)
                parts["before"].append(started)
                parts["timeline_request"].append(ended - started)
                parts["after"].append(drawn - ended)
        finally:
            chromium.close()
    return {
        **_summary(times),
        # medians: until the timeline is asked for (the page, its files, sign-in settings,
        # session, sheet), the timeline's request, and from its answer to the frame drawn
        "parts_ms": {name: round(statistics.median(values), 1) for name, values in parts.items()},
    }


def _summary(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "min_ms": round(ordered[0], 1),
        "max_ms": round(ordered[-1], 1),
        "n": len(ordered),
    }


def record(figures: dict[str, Any], results: Path) -> Path:
    """Put these figures into `results` (`make bench`'s) in place of the console profile's, with
    the targets judged again, and render `docs/performance.md` from it: the other figures stay
    as their run measured them."""
    from bench.render import write
    from bench.run import _report, _targets

    found = json.loads(results.read_text())
    found["console_profile"] = figures
    found["targets"] = _targets(found)
    results.write_text(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
    _report(found["targets"])
    return write(found)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per route and role")
    parser.add_argument("--browser-tries", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--record",
        type=Path,
        metavar="RESULTS",
        help="also put the figures into this results file (bench/results.json) and render",
    )
    args = parser.parse_args(argv)
    figures = measure(
        args.events,
        tries=args.tries,
        budget=args.budget,
        browser_tries=args.browser_tries,
        browser=not args.no_browser,
    )
    print(json.dumps(figures, indent=2), file=sys.stdout)
    if args.record is not None:
        print(f"wrote {record(figures, args.record)}", file=sys.stderr)


if __name__ == "__main__":
    main()
