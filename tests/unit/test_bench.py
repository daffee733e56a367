"""The pure parts of the benchmark suite: capacity-unit arithmetic by AWS's documented rules,
the workload generator, the cost model. (`make bench` runs the suite itself; tests do not.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bench.capacity import (
    TableSchema,
    consumed,
    item_size,
    key_id,
    number_size,
    read_units,
    write_units,
)
from bench.cost import invocation_ms, per_million, storage_per_million
from bench.workload import generate

EVENTS = TableSchema("t-events", "events", ("pk", "sk"))
PROFILES = TableSchema(
    "t-profiles", "profiles", ("profile_id",), (("due", ("due_shard", "due_quarter")),)
)
SCHEMAS = {schema.name: schema for schema in (EVENTS, PROFILES)}


def ref(schema: TableSchema, item: dict[str, Any]) -> tuple[str, str]:
    return schema.ref(item)


def profile(size: int, **extra: Any) -> dict[str, Any]:
    """A profile item of exactly `size` bytes (name lengths count)."""
    item = {"profile_id": {"S": "p1"}, **extra}
    item["state"] = {"B": b""}
    item["state"] = {"B": b"x" * (size - item_size(item))}
    assert item_size(item) == size
    return item


# -- item sizes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("7", 2),  # one significant digit: one byte, plus one
        ("12", 2),
        ("123", 3),
        ("-123.45", 4),  # 12345: five digits, three bytes, plus one
        ("1000000", 2),  # trailing zeros are not significant
        ("0.000001", 2),  # nor leading ones
        ("12345678901234567890123456789012345678", 20),  # 38 digits
    ],
)
def test_numbers_take_a_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size


def test_an_item_is_its_names_plus_its_values() -> None:
    item = {
        "pk": {"S": "user_id:42"},  # 2 + 10
        "body": {"B": b"\x00" * 100},  # 4 + 100
        "n": {"N": "42"},  # 1 + 2
        "ok": {"BOOL": True},  # 2 + 1
        "none": {"NULL": True},  # 4 + 1
        "tags": {"SS": ["ab", "cde"]},  # 4 + 5
        "é": {"S": "ü"},  # 2 + 2 (UTF-8 bytes)
    }
    assert item_size(item) == 12 + 104 + 3 + 3 + 5 + 9 + 4


def test_lists_and_maps_cost_three_bytes_plus_one_per_element() -> None:
    assert item_size({"l": {"L": []}}) == 1 + 3
    # a map's keys count like attribute names
    assert item_size({"m": {"M": {"a": {"S": "xy"}, "bb": {"N": "1"}}}}) == 1 + 3 + (1 + 1 + 2) + (
        1 + 2 + 2
    )
    assert item_size({"l": {"L": [{"S": "x"}, {"L": [{"N": "5"}]}]}}) == 1 + 3 + (1 + 1) + (
        1 + 3 + 1 + 2
    )


def test_units_round_up_to_1_kb_writes_and_4_kb_reads_with_a_minimum_of_one() -> None:
    assert [write_units(size) for size in (0, 1, 1024, 1025, 2048, 2049)] == [1, 1, 1, 2, 2, 3]
    assert read_units(4096, consistent=True) == 1
    assert read_units(4097, consistent=True) == 2
    assert read_units(0, consistent=True) == 1  # nothing found still costs a read
    assert read_units(4097, consistent=False) == 1  # eventually consistent: half


# -- requests ---------------------------------------------------------------------------


def test_a_replacing_put_costs_the_larger_of_the_old_and_new_item() -> None:
    old, new = profile(3000), profile(900)
    usage = consumed(
        "PutItem",
        {"TableName": "t-profiles", "Item": new},
        {},
        error=None,
        schemas=SCHEMAS,
        before={ref(PROFILES, old): old},
        after={},
    )
    assert usage.by_table["profiles"].write == 3


def test_a_failed_condition_still_costs_the_existing_item() -> None:
    old = profile(1500)
    usage = consumed(
        "PutItem",
        {"TableName": "t-profiles", "Item": profile(100)},
        {},
        error="ConditionalCheckFailedException",
        schemas=SCHEMAS,
        before={ref(PROFILES, old): old},
        after={},
    )
    assert usage.write == 2
    throttled = consumed(
        "PutItem",
        {"TableName": "t-profiles", "Item": profile(100)},
        {},
        error="ProvisionedThroughputExceededException",
        schemas=SCHEMAS,
        before={},
        after={},
    )
    assert throttled.write == 0


def test_transactions_cost_double() -> None:
    new = profile(1100)
    usage = consumed(
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "t-profiles", "Item": new}}]},
        {},
        error=None,
        schemas=SCHEMAS,
        before={ref(PROFILES, new): None},
        after={},
    )
    assert usage.write == 4  # 2 KB, doubled


def test_batch_get_rounds_each_item_and_charges_keys_not_found() -> None:
    big, small = profile(5000), profile(100)
    small["profile_id"] = {"S": "p2"}
    keys = [{"profile_id": {"S": p}} for p in ("p1", "p2", "p3")]
    usage = consumed(
        "BatchGetItem",
        {"RequestItems": {"t-profiles": {"Keys": keys, "ConsistentRead": True}}},
        {"Responses": {"t-profiles": [big, small]}},
        error=None,
        schemas=SCHEMAS,
        before={},
        after={},
    )
    assert usage.read == 2 + 1 + 1
    eventual = consumed(
        "BatchGetItem",
        {"RequestItems": {"t-profiles": {"Keys": keys}}},
        {"Responses": {"t-profiles": [big, small]}},
        error=None,
        schemas=SCHEMAS,
        before={},
        after={},
    )
    assert eventual.read == 2.0


def test_a_query_rounds_the_sum_of_its_items() -> None:
    items = [{"pk": {"S": "a"}, "sk": {"S": str(n)}, "b": {"B": b"x" * 1000}} for n in range(5)]
    usage = consumed(
        "Query",
        {"TableName": "t-events"},
        {"Items": items},
        error=None,
        schemas=SCHEMAS,
        before={},
        after={},
    )
    assert usage.read == 1.0  # ~5 KB eventually consistent: two units, halved


def test_batch_writes_round_each_item_and_skip_the_unprocessed() -> None:
    puts = [
        {"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"S": str(n)}, "b": {"B": b"x" * 1500}}}}
        for n in range(3)
    ]
    usage = consumed(
        "BatchWriteItem",
        {"RequestItems": {"t-events": puts}},
        {"UnprocessedItems": {"t-events": puts[2:]}},
        error=None,
        schemas=SCHEMAS,
        before={},
        after={},
    )
    assert usage.by_table["events"].write == 4  # two items of two units; the third comes later


@pytest.mark.parametrize(
    ("before", "after", "index_writes"),
    [
        (None, None, 0),  # never in the index
        (None, ("0", "q1"), 1),  # enters it
        (("0", "q1"), ("0", "q1"), 0),  # key unchanged (KEYS_ONLY: nothing to update)
        (("0", "q1"), ("0", "q2"), 2),  # key changed: delete and put
        (("0", "q1"), None, 1),  # leaves it
    ],
)
def test_index_writes_follow_the_index_key(
    before: tuple[str, str] | None, after: tuple[str, str] | None, index_writes: int
) -> None:
    def item(due: tuple[str, str] | None) -> dict[str, Any]:
        extra = {"due_shard": {"S": due[0]}, "due_quarter": {"S": due[1]}} if due else {}
        return profile(500, **extra)

    old, new = item(before), item(after)
    usage = consumed(
        "PutItem",
        {"TableName": "t-profiles", "Item": new},
        {},
        error=None,
        schemas=SCHEMAS,
        before={ref(PROFILES, old): old},
        after={},
    )
    assert usage.by_table["profiles"].index_write == index_writes
    assert usage.by_table["profiles"].write == 1


def test_an_update_costs_the_larger_of_before_and_after() -> None:
    old, new = profile(200), profile(2100)
    usage = consumed(
        "UpdateItem",
        {"TableName": "t-profiles", "Key": {"profile_id": {"S": "p1"}}},
        {},
        error=None,
        schemas=SCHEMAS,
        before={("t-profiles", key_id({"profile_id": {"S": "p1"}})): old},
        after={("t-profiles", key_id({"profile_id": {"S": "p1"}})): new},
    )
    assert usage.write == 3


# -- the workload -----------------------------------------------------------------------

START = datetime(2026, 11, 1, tzinfo=UTC)


def workload(seed: int = 3, batch_size: int = 20) -> Any:
    return generate(
        seed=seed,
        visitors=25,
        batch_size=batch_size,
        start=START,
        days=10,
        website_key="wk",
        mailer_key="wm",
    )


def test_the_workload_is_the_same_for_the_same_seed() -> None:
    assert workload() == workload()
    assert workload(seed=4) != workload()


def test_requests_hold_at_most_the_batch_size_and_every_kind_of_message() -> None:
    found = workload(batch_size=7)
    assert found.requests
    assert all(request.messages <= 7 for request in found.requests)
    assert {"page", "track", "identify", "order", "email", "form"} <= set(found.counts)
    assert found.messages == sum(found.counts.values())
    message_ids = [m["messageId"] for r in found.requests for m in r.body.get("batch", [])]
    assert len(message_ids) == len(set(message_ids))


def test_requests_arrive_in_order_and_each_visitors_messages_in_time_order() -> None:
    found = workload(batch_size=1)
    assert [r.order for r in found.requests] == sorted(r.order for r in found.requests)
    by_device: dict[str, list[str]] = {}
    for request in found.requests:
        for message in request.body.get("batch", []):
            if "anonymousId" in message:
                by_device.setdefault(message["anonymousId"], []).append(message["timestamp"])
    assert by_device
    assert all(times == sorted(times) for times in by_device.values())


def test_some_visitors_sign_in_on_a_second_device() -> None:
    found = generate(
        seed=5, visitors=80, batch_size=20, start=START, days=14, website_key="wk", mailer_key="wm"
    )
    devices: dict[str, set[str]] = {}
    for request in found.requests:
        for message in request.body.get("batch", []):
            if "userId" in message and "anonymousId" in message:
                devices.setdefault(message["userId"], set()).add(message["anonymousId"])
    assert any(len(ids) > 1 for ids in devices.values())


# -- cost -------------------------------------------------------------------------------

ASSUMPTIONS = {
    "vcpu_full_at_mb": 1769,
    "cpu_time_factor": 1.0,
    "latency_ms": {"dynamodb": 5, "events": 20},
}


def test_an_invocation_is_its_cpu_time_at_its_vcpu_share_plus_waits_rounded_up() -> None:
    # 10 ms of CPU at 1,769 MB is 10 ms; at half the memory, 20 ms; plus two 5 ms waits
    assert invocation_ms(10_000_000, {}, memory_mb=1769, assumptions=ASSUMPTIONS) == 10
    assert invocation_ms(
        10_000_000, {"dynamodb.PutItem": 2}, memory_mb=884, assumptions=ASSUMPTIONS
    ) == (31)  # 20.01 ms of computing rounds up with the waits
    assert invocation_ms(1, {}, memory_mb=3008, assumptions=ASSUMPTIONS) == 1


def test_cost_lines_are_units_per_event_times_prices() -> None:
    prices = {
        "api_gateway_http": {"requests_per_million": 1.0},
        "lambda": {"requests_per_million": 0.2, "gb_second_arm64": 0.0000133334},
        "dynamodb_on_demand": {
            "write_request_units_per_million": 0.625,
            "read_request_units_per_million": 0.125,
            "storage_gb_month": 0.25,
        },
        "eventbridge": {"custom_events_per_million": 1.0},
        "sqs": {"requests_per_million": 0.4},
        "cloudwatch_logs": {"ingestion_per_gb": 0.5},
    }
    lines = per_million(
        {
            "api_requests": 0.05,
            "lambda_invocations": 0.1,
            "lambda_gb_seconds": 0.001,
            "write_units": 2,
            "read_units": 1,
            "eventbridge_events": 0.1,
            "sqs_requests": 0,
            "log_bytes": 0,
        },
        prices,
    )
    assert lines["DynamoDB writes (on-demand WRU)"] == 1.25
    assert lines["DynamoDB reads (on-demand RRU)"] == 0.125
    assert lines["API Gateway (HTTP API requests)"] == 0.05
    assert lines["Lambda duration (arm64, estimated)"] == pytest.approx(0.0133, abs=1e-4)
    # a million 924-byte items (1 KB with the per-item overhead) for a year
    yearly = storage_per_million(924, retention_days=365, prices=prices)
    assert yearly == pytest.approx(1024**2 * 1e6 / 1024**3 / 1024 * 12 * 0.25, rel=1e-3)
