"""`cdp dev`'s memory after the soak load and a 181-day scheduler run (issue target: at most
1 GB resident).

    python -m bench.memory [--events N] [--days D] [--daily N] [--objects] [--trace]

`cdp dev` runs as a subprocess, so the resident memory read from /proc/<pid>/status (VmRSS now,
VmHWM at its highest) is that process's alone. With a segment that time alone changes
("bought in the last 30 days") in force, it receives the load of `make soak`
(tests/e2e/test_load.py: concurrent raw-HTTP and Segment-library clients, `--events` messages),
works it off (every stream reader has taken every record, the queues are empty), then lives
`--days` days: each day a few people order (`--daily` messages), the clock moves a day
(`POST /_dev/clock`) and the scheduler runs (`POST /_dev/scheduler`). Each stage records
the resident memory and what moto holds for the stack (`GET /_dev/memory`).

`--objects` adds the most numerous kinds of Python object at the end; `--trace` runs `cdp dev`
under tracemalloc (slower) and adds the lines that allocated the most live memory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.e2e.conftest import SECRET_KEY, WRITE_KEY, DevStack, start_dev, stop_dev
from tests.e2e.test_load import Person, Sent, send_raw, send_with_library, workload

TARGET_MB = 1024
SEGMENT: dict[str, Any] = {
    "id": "recent-buyers",
    "name": "Bought in the last 30 days",
    "condition": {"all": [{"computed": "orders_30d", "gte": 1}]},
}


def resident_mb(pid: int) -> dict[str, float]:
    from workbench.local.memory import resident_mb as of_status

    return of_status(Path(f"/proc/{pid}/status"))


def measure(
    events: int = 50_000,
    *,
    days: int = 181,
    daily: int = 20,
    objects: bool = False,
    trace: bool = False,
) -> dict[str, Any]:
    """Run the whole scenario against a fresh `cdp dev`; answer the figures (MB, seconds)."""
    began = time.monotonic()
    if trace:
        os.environ["PYTHONTRACEMALLOC"] = "1"
    try:
        stack = start_dev("--scheduler-seconds", "3600")
    finally:
        os.environ.pop("PYTHONTRACEMALLOC", None)
    session = requests.Session()
    admin = {"Authorization": f"Bearer {SECRET_KEY}"}
    pid = stack.process.pid
    stages: dict[str, Any] = {}
    seconds: dict[str, float] = {}

    def stage(name: str, *, with_objects: bool = False) -> None:
        query = "?objects=1" if with_objects else ""
        held = session.get(f"{stack.url}/_dev/memory{query}", timeout=600).json()
        stages[name] = {**resident_mb(pid), "held": held}

    failed = True
    try:
        stage("started")
        answer = session.put(
            f"{stack.url}/v1/segments/{SEGMENT['id']}", json=SEGMENT, headers=admin, timeout=30
        )
        answer.raise_for_status()

        people, total = _load(stack, events, seconds)
        stage("after_load")
        by_day = _live(stack, people, days=days, daily=daily, seconds=seconds)
        stage("after_scheduler", with_objects=objects)
        failed = False
    finally:
        code, output = stop_dev(stack)  # (which deletes its log)
        if failed:  # what cdp dev said is the only trace of why
            print(f"cdp dev's output, its end:\n{output[-5000:]}", file=sys.stderr)
    if code != 0:
        raise RuntimeError(f"cdp dev did not stop cleanly:\n{output[-3000:]}")
    seconds["total"] = round(time.monotonic() - began, 1)
    peak = stages["after_scheduler"].get("peak_rss_mb", 0.0)
    return {
        "events": total,
        "people": len(people),
        "days": days,
        "daily_events": daily,
        "stages": stages,
        "rss_mb_by_day": by_day,
        "seconds": seconds,
        "target_mb": TARGET_MB,
        "met": peak <= TARGET_MB,
    }


def _load(stack: DevStack, events: int, seconds: dict[str, float]) -> tuple[list[Person], int]:
    """`make soak`'s load, sent as tests/e2e/test_load.py sends it, then worked off."""
    people = workload(events)
    total = sum(len(person.messages) for person in people)
    sent = Sent()
    started = time.monotonic()
    library = threading.Thread(
        target=send_with_library, args=(stack, [p for p in people if p.lane == "library"], sent)
    )
    library.start()
    send_raw(stack, [p for p in people if p.lane == "raw"], sent)
    library.join()
    seconds["send"] = round(time.monotonic() - started, 1)
    if sent.library_errors or sent.accepted != total:
        raise RuntimeError(f"the load was not all accepted: {sent.library_errors[:3]}")
    drain(requests.Session(), stack.url, timeout=max(300, total / 20))
    seconds["drain"] = round(time.monotonic() - started - seconds["send"], 1)
    return people, total


def _live(
    stack: DevStack, people: list[Person], *, days: int, daily: int, seconds: dict[str, float]
) -> list[tuple[int, float]]:
    """`days` days, one at a time: a few people order, the clock moves, the scheduler runs.
    Answers the resident memory every 30 days."""
    session = requests.Session()
    rng = random.Random(days)  # noqa: S311 (a reproducible workload, not a secret)
    by_day: list[tuple[int, float]] = []
    started = time.monotonic()
    for day in range(1, days + 1):
        batch: list[dict[str, Any]] = [
            {
                "type": "track",
                "userId": person.user_id,
                "event": "Order Completed",
                "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                "properties": {"revenue": round(rng.uniform(5, 500), 2)},
            }
            for person in rng.sample(people, min(daily, len(people)))
        ]
        if batch:
            answer = session.post(
                f"{stack.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=30
            )
            answer.raise_for_status()
        moved = session.post(f"{stack.url}/_dev/clock", json={"advance_days": 1}, timeout=30)
        moved.raise_for_status()
        ran = session.post(f"{stack.url}/_dev/scheduler", timeout=600)
        if ran.status_code != 200:  # which function failed, on which day
            raise RuntimeError(f"day {day}: the scheduler's run failed: {ran.text[:2000]}")
        if day % 30 == 0 or day == days:
            by_day.append((day, resident_mb(stack.process.pid).get("rss_mb", 0.0)))
    drain(session, stack.url, timeout=300)
    seconds["scheduler"] = round(time.monotonic() - started, 1)
    return by_day


def drain(session: requests.Session, url: str, *, timeout: float) -> None:
    """Until every stream reader has taken every record and every queue is empty, twice in a
    row a second apart (a stream record can start a queue message and the other way round)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        if time.monotonic() > deadline:
            raise RuntimeError(f"cdp dev did not work off its load in {timeout:.0f} s")
        held = session.get(f"{url}/_dev/memory", timeout=60).json()
        unread = sum(sum(stream["unread"].values()) for stream in held["streams"].values())
        waiting = sum(queue["messages"] for queue in held["queues"].values())
        quiet = quiet + 1 if unread == 0 and waiting == 0 else 0
        time.sleep(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=181)
    parser.add_argument("--daily", type=int, default=20, help="messages sent each day")
    parser.add_argument("--objects", action="store_true", help="count objects at the end")
    parser.add_argument("--trace", action="store_true", help="run cdp dev under tracemalloc")
    args = parser.parse_args(argv)
    figures = measure(
        args.events, days=args.days, daily=args.daily, objects=args.objects, trace=args.trace
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
