"""The figures: each function runs one part of the benchmark and answers plain data for
`bench/results.json`. The recorder must have been installed before any botocore session
(see `bench.run`)."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.capacity import item_size
from bench.pipeline import MAILER_KEY, STREAM_BATCH, WEBSITE_KEY, Platform
from bench.recording import Invocation, Recorder
from bench.segments import segment_definitions
from bench.workload import Workload, generate

E2E_SEGMENTS = 10


def workload_for(seed: int, visitors: int, batch_size: int, days: int) -> Workload:
    start = (datetime.now(UTC) - timedelta(days=days + 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return generate(
        seed=seed,
        visitors=visitors,
        batch_size=batch_size,
        start=start,
        days=days,
        website_key=WEBSITE_KEY,
        mailer_key=MAILER_KEY,
    )


# -- 1, 2 and the cost inputs: the pipeline end to end ----------------------------------


def end_to_end(
    recorder: Recorder, workload: Workload
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the workload through collector, forms API, profile builder and publisher with
    every request recorded; answer the figures and the profile states it left."""
    recorder.reset()
    recorder.measure_items = True
    with Platform(recorder, segments=segment_definitions(E2E_SEGMENTS)) as platform:
        platform.run(workload)
        events_items = _scan(recorder, platform.tables["EVENTS_TABLE"])
        profile_items = _scan(recorder, platform.tables["PROFILES_TABLE"])
        traffic = platform.traffic
    messages = traffic.messages
    stored = len(events_items)
    by_stage: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    read = write = 0.0
    for call in recorder.calls:
        for table, units in call.usage.by_table.items():
            entry = by_stage[call.stage].setdefault(
                table, {"read": 0.0, "write": 0.0, "index_write": 0.0}
            )
            entry["read"] += units.read
            entry["write"] += units.write
            entry["index_write"] += units.index_write
            read += units.read
            write += units.write + units.index_write
    requests: dict[str, Counter[str]] = defaultdict(Counter)
    billed: Counter[str] = Counter()
    for call in recorder.calls:
        requests[call.stage][call.kind] += 1
        billed[call.kind] += call.billed
    live = [item for item in profile_items if "state" in item]
    figures = {
        "batch_size": workload.batch_size,
        "visitors": workload.visitors,
        "segments_defined": E2E_SEGMENTS,
        "messages": messages,
        "messages_by_kind": workload.counts,
        "events_stored": stored,
        "requests_sent": dict(traffic.requests),
        "messages_per_request": round(messages / sum(traffic.requests.values()), 2),
        "failed_requests": traffic.failed_requests,
        "failed_stream_records": traffic.failed_records,
        "stream_records_per_event": {
            table: round(count / messages, 3) for table, count in traffic.stream_records.items()
        },
        "profiles": len(live),
        "merged_away": len(profile_items) - len(live),
        "capacity": {
            "read_per_event": round(read / messages, 3),
            "write_per_event": round(write / messages, 3),
            "total_per_event": round((read + write) / messages, 3),
            "floor_per_event": round(stored / messages, 3),
            "ratio_to_floor": round((read + write) / stored, 2),
            "by_stage": {
                stage: {
                    table: {kind: round(value / messages, 4) for kind, value in units.items()}
                    for table, units in sorted(tables.items())
                }
                for stage, tables in sorted(by_stage.items())
            },
        },
        "requests_per_event": {
            stage: {kind: round(count / messages, 4) for kind, count in sorted(kinds.items())}
            for stage, kinds in sorted(requests.items())
        },
        "billed_per_event": {kind: round(n / messages, 4) for kind, n in sorted(billed.items())},
        "invocations_per_event": {
            stage: round(count / messages, 4)
            for stage, count in Counter(i.stage for i in recorder.invocations).items()
        },
        "printed_bytes_per_event": round(sum(traffic.output_bytes.values()) / messages, 1),
        "event_item_bytes": round(statistics.mean(item_size(i) for i in events_items), 1),
        "profile_item_bytes": {
            "mean": round(statistics.mean(item_size(i) for i in live), 1),
            "p95": _percentile([item_size(i) for i in live], 95),
            "max": max(item_size(i) for i in live),
        },
        "cpu": _cpu(recorder.invocations, traffic.stream_records, messages),
    }
    invocations = [
        (i.stage, i.ours_ns + i.botocore_ns, dict(i.requests)) for i in recorder.invocations
    ]
    figures["_invocations"] = invocations  # for the cost model; not written out
    return figures, live


def _cpu(
    invocations: list[Invocation], records: Counter[str], messages: int
) -> dict[str, dict[str, str | float]]:
    """Microseconds of CPU per unit of work: per event for the API functions, per stream
    record for the stream consumers."""
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for invocation in invocations:
        totals[invocation.stage]["ours"] += invocation.ours_ns
        totals[invocation.stage]["botocore"] += invocation.botocore_ns
        totals[invocation.stage]["aws_in_memory"] += invocation.transport_ns
    units = {"profile_builder": records["events"], "publisher": records["profiles"]}
    return {
        stage: {
            "per": "stream record" if stage in units else "event",
            **{
                f"{kind}_us": round(ns / 1000 / max(1, units.get(stage, messages)), 1)
                for kind, ns in values.items()
            },
        }
        for stage, values in sorted(totals.items())
    }


def _scan(recorder: Recorder, table: str) -> list[dict[str, Any]]:
    """Every item of a table, read outside any stage (so not recorded)."""
    items: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"TableName": table}
    while True:
        answer = recorder.peek_client.scan(**arguments)
        items += answer["Items"]
        if "LastEvaluatedKey" not in answer:
            return items
        arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _percentile(values: Sequence[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


# -- 3: CPU time per event and per stream record ----------------------------------------


def collector_cpu(
    recorder: Recorder,
    workload: Workload,
    *,
    batch_sizes: tuple[int, ...],
    messages: int,
    rounds: int,
) -> dict[str, Any]:
    """CPU time of the collector per event at each batch size: the workload's website
    messages, packed `batch_size` to a request, sent `rounds` times (median of the rounds).
    AWS answers in memory; the time inside AWS calls is measured and left out."""
    website = [
        message
        for request in workload.requests
        if request.function == "collector" and request.body["writeKey"] == WEBSITE_KEY
        for message in request.body["batch"]
    ][:messages]
    recorder.measure_items = False
    results: dict[str, Any] = {}
    with Platform(recorder, segments=[]) as platform:
        for batch_size in batch_sizes:
            bodies = [
                {
                    "writeKey": WEBSITE_KEY,
                    "batch": website[begin : begin + batch_size],
                    "sentAt": website[min(len(website), begin + batch_size) - 1]["timestamp"],
                }
                for begin in range(0, len(website), batch_size)
            ]
            for body in bodies[:5]:  # warm: the app, its clients, the key cache
                platform.invoke("collector", _request(body))
            samples: list[dict[str, float]] = []
            for _ in range(rounds):
                recorder.reset()
                for body in bodies:
                    platform.invoke("collector", _request(body))
                count = sum(len(body["batch"]) for body in bodies)
                samples.append(
                    {
                        "ours_us": sum(i.ours_ns for i in recorder.invocations) / 1000 / count,
                        "botocore_us": sum(i.botocore_ns for i in recorder.invocations)
                        / 1000
                        / count,
                        "aws_in_memory_us": sum(i.transport_ns for i in recorder.invocations)
                        / 1000
                        / count,
                    }
                )
            results[str(batch_size)] = {
                kind: round(statistics.median(s[kind] for s in samples), 1) for kind in samples[0]
            } | {
                "events": len(website),
                "requests": len(bodies),
                "rounds": rounds,
                "ours_us_per_request": round(
                    statistics.median(s["ours_us"] for s in samples) * len(website) / len(bodies), 1
                ),
            }
    recorder.measure_items = True
    return results


def _request(body: dict[str, Any]) -> dict[str, Any]:
    from bench.pipeline import http_event

    return http_event("/v1/batch", body)


def stream_cpu(recorder: Recorder, workload: Workload) -> dict[str, Any]:
    """CPU time per stream record of the profile builder and the publisher, on the workload
    (nothing but timing recorded)."""
    recorder.reset()
    recorder.measure_items = False
    with Platform(recorder, segments=segment_definitions(E2E_SEGMENTS)) as platform:
        platform.run(workload)
        records = platform.traffic.stream_records
        messages = platform.traffic.messages
    recorder.measure_items = True
    return _cpu(recorder.invocations, records, messages)


# -- 4: segment evaluation --------------------------------------------------------------


def segment_evaluation(states: list[dict[str, Any]], counts: tuple[int, ...]) -> dict[str, Any]:
    """Time to evaluate every segment for one profile, as the profile builder does on each
    write (`update_segments`: gather the profile's facts, evaluate each segment in dependency
    order, find when time alone could next change a membership)."""
    from cdp.profiles.computed import load_definitions
    from cdp.profiles.profile import Profile, facts_of, update_segments
    from cdp.segments.conditions import load_segments
    from cdp.storage.profiles import decode_state

    definitions = load_definitions([])
    now = datetime.now(UTC)
    profiles = [
        (item["profile_id"]["S"], decode_state(item["state"]["B"]), int(item["version"]["N"]))
        for item in states
    ]
    results: dict[str, Any] = {"profiles": len(profiles)}
    facts_ns = []
    for profile_id, state, version in profiles:
        profile = Profile.from_state(profile_id, state, version)
        start = time.thread_time_ns()
        facts_of(profile, definitions, now)
        facts_ns.append(time.thread_time_ns() - start)
    results["facts_us"] = round(statistics.median(facts_ns) / 1000, 1)
    for count in counts:
        segments = load_segments(segment_definitions(count))
        per_profile = []
        members = 0
        for profile_id, state, version in profiles:
            best = None
            for _ in range(3):
                profile = Profile.from_state(profile_id, state, version)
                start = time.thread_time_ns()
                update_segments(profile, segments, definitions, now)
                elapsed = time.thread_time_ns() - start
                best = elapsed if best is None else min(best, elapsed)
            members += len(profile.segments)
            assert best is not None
            per_profile.append(best)
        results[str(count)] = {
            "median_ms": round(statistics.median(per_profile) / 1e6, 3),
            "p95_ms": round(_percentile(per_profile, 95) / 1e6, 3),
            "per_segment_us": round(statistics.median(per_profile) / 1000 / count, 2),
            "memberships_per_profile": round(members / len(profiles), 1),
        }
    return results


# -- growth: profile age and events per profile per batch -------------------------------


def growth(
    recorder: Recorder, *, ages: tuple[int, ...], per_batch: tuple[int, ...]
) -> dict[str, Any]:
    """How a person's cost grows: with the age of their profile (days of history, so the
    size of the profile item), and with how many of their events one stream batch carries."""
    recorder.measure_items = True
    results: dict[str, Any] = {"profile_age": [], "events_per_batch": []}
    with Platform(recorder, segments=segment_definitions(E2E_SEGMENTS)) as platform:
        now = datetime.now(UTC)
        for age in ages:
            person = _Person(f"age-{age}", now - timedelta(days=age))
            history = [message for day in range(age) for message in person.day(day)]
            for begin in range(0, len(history), STREAM_BATCH):
                platform.invoke(
                    "collector", _request(person.body(history[begin : begin + STREAM_BATCH]))
                )
                platform.deliver()
            samples = []
            for _ in range(3):
                recorder.reset()
                platform.invoke("collector", _request(person.body([person.page(now)])))
                platform.deliver()
                samples.append(_step(recorder, 1))
            state = _profile_item(recorder, platform, person.user_id)
            results["profile_age"].append(
                {
                    "days": age,
                    "events": len(history),
                    "profile_item_bytes": item_size(state),
                    **{key: statistics.median(s[key] for s in samples) for key in samples[0]},
                }
            )
        person = _Person("batched", now - timedelta(days=30))
        history = [message for day in range(30) for message in person.day(day)]
        for begin in range(0, len(history), STREAM_BATCH):
            platform.invoke(
                "collector", _request(person.body(history[begin : begin + STREAM_BATCH]))
            )
            platform.deliver()
        for count in per_batch:
            recorder.reset()
            messages = [person.page(now - timedelta(seconds=count - n)) for n in range(count)]
            platform.invoke("collector", _request(person.body(messages)))
            platform.deliver()
            results["events_per_batch"].append({"events": count, **_step(recorder, count)})
    return results


def _step(recorder: Recorder, events: int) -> dict[str, float]:
    units = sum(u.total for call in recorder.calls for u in call.usage.by_table.values())
    builder = [i for i in recorder.invocations if i.stage == "profile_builder"]
    return {
        "capacity_per_event": round(units / events, 3),
        "profile_builder_reads": sum(
            u.read
            for call in recorder.calls
            if call.stage == "profile_builder"
            for u in call.usage.by_table.values()
        ),
        "profile_builder_writes": sum(
            u.write + u.index_write
            for call in recorder.calls
            if call.stage == "profile_builder"
            for u in call.usage.by_table.values()
        ),
        "builder_ours_us_per_event": round(sum(i.ours_ns for i in builder) / 1000 / events, 1),
    }


def _profile_item(recorder: Recorder, platform: Platform, user_id: str) -> dict[str, Any]:
    client = recorder.peek_client
    identity = client.get_item(
        TableName=platform.tables["IDENTITIES_TABLE"], Key={"identity": {"S": f"user_id:{user_id}"}}
    )["Item"]
    item: dict[str, Any] = client.get_item(
        TableName=platform.tables["PROFILES_TABLE"],
        Key={"profile_id": identity["profile_id"]},
    )["Item"]
    return item


class _Person:
    """A signed-up customer's daily life on the website: a few pages and products a day, an
    order a week, consent on every message (as the tracker sends it)."""

    def __init__(self, user_id: str, first_day: datetime) -> None:
        self.user_id = user_id
        self.first_day = first_day
        self.sequence = 0

    def day(self, number: int) -> list[dict[str, Any]]:
        at = self.first_day + timedelta(days=number, hours=10)
        messages = [self.page(at + timedelta(minutes=n), f"/p/shoes-{n}") for n in range(3)]
        messages.append(
            self.message(
                "track",
                at + timedelta(minutes=4),
                event="Product Viewed",
                properties={
                    "product_id": f"shoes-{number % 9}",
                    "category": "shoes",
                    "price": 79.5,
                },
            )
        )
        if number == 0:
            messages.insert(
                0,
                self.message(
                    "identify",
                    at,
                    traits={
                        "email": f"{self.user_id}@example.com",
                        "plan": "pro",
                        "first_name": "Ada",
                    },
                ),
            )
        if number % 7 == 3:
            messages.append(
                self.message(
                    "track",
                    at + timedelta(minutes=6),
                    event="Order Completed",
                    properties={
                        "order_id": f"{self.user_id}-{number}",
                        "revenue": 99.5,
                        "currency": "EUR",
                        "category": "shoes",
                    },
                )
            )
        return messages

    def page(self, at: datetime, path: str = "/") -> dict[str, Any]:
        return self.message(
            "page", at, name=path, properties={"path": path, "url": f"https://shop.example{path}"}
        )

    def message(self, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
        from cdp.runtime.clock import iso

        self.sequence += 1
        return {
            "type": kind,
            "messageId": f"{self.user_id}-{self.sequence}",
            "timestamp": iso(at),
            "userId": self.user_id,
            "anonymousId": f"anon-{self.user_id}",
            "context": {
                "library": {"name": "cdp.js", "version": "0.1.0"},
                "page": {"path": "/", "url": "https://shop.example/"},
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
                "consent": {"categoryPreferences": {"analytics": True, "marketing": True}},
            },
            **fields,
        }

    def body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"writeKey": WEBSITE_KEY, "batch": messages, "sentAt": messages[-1]["timestamp"]}


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
