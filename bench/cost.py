"""Cost per million events at list prices, from the measured figures (pure).

Lambda's duration is not measured here (no AWS); it is estimated per invocation from what was
measured: the CPU time of our code and of botocore, stretched by the share of a vCPU the
function's memory buys (Lambda gives a full vCPU at 1,769 MB and proportionally less below),
plus an assumed wait per AWS request; rounded up to the millisecond as Lambda bills. The
assumptions are written in `bench/prices.json` beside the prices.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypedDict

MILLION = 1_000_000

# The price tables of `prices.json` by service: prices["lambda"]["gb_second_arm64"], in dollars.
Prices = Mapping[str, Mapping[str, float]]


class Assumptions(TypedDict):
    """`assumptions` in `prices.json`."""

    vcpu_full_at_mb: int
    cpu_time_factor: float
    latency_ms: Mapping[str, float]  # by service, as the first part of a request's kind


def invocation_ms(
    cpu_ns: int, requests: Mapping[str, int], *, memory_mb: int, assumptions: Assumptions
) -> int:
    """Billed milliseconds of one invocation."""
    share = min(1.0, memory_mb / assumptions["vcpu_full_at_mb"])
    computing = cpu_ns / 1e6 * assumptions["cpu_time_factor"] / share
    latency = assumptions["latency_ms"]
    waiting = sum(count * latency[kind.split(".")[0]] for kind, count in requests.items())
    return max(1, math.ceil(computing + waiting))


def gb_seconds(
    invocations: Iterable[tuple[int, Mapping[str, int]]],
    *,
    memory_mb: int,
    assumptions: Assumptions,
) -> float:
    """GB-seconds of (cpu_ns, requests by kind) invocations of one function."""
    billed_ms = sum(
        invocation_ms(cpu, requests, memory_mb=memory_mb, assumptions=assumptions)
        for cpu, requests in invocations
    )
    return billed_ms / 1000 * memory_mb / 1024


def per_million(per_event: Mapping[str, float], prices: Prices) -> dict[str, float]:
    """Dollars per million events, by line. `per_event` holds: api_requests,
    lambda_invocations, lambda_gb_seconds, write_units, read_units, eventbridge_events,
    sqs_requests, log_bytes."""
    lines = {
        "API Gateway (HTTP API requests)": per_event["api_requests"]
        * prices["api_gateway_http"]["requests_per_million"],
        "Lambda requests": per_event["lambda_invocations"]
        * prices["lambda"]["requests_per_million"],
        "Lambda duration (arm64, estimated)": per_event["lambda_gb_seconds"]
        * MILLION
        * prices["lambda"]["gb_second_arm64"],
        "DynamoDB writes (on-demand WRU)": per_event["write_units"]
        * prices["dynamodb_on_demand"]["write_request_units_per_million"],
        "DynamoDB reads (on-demand RRU)": per_event["read_units"]
        * prices["dynamodb_on_demand"]["read_request_units_per_million"],
        "EventBridge (custom events)": per_event["eventbridge_events"]
        * prices["eventbridge"]["custom_events_per_million"],
        "SQS requests": per_event["sqs_requests"] * prices["sqs"]["requests_per_million"],
        "CloudWatch Logs (what the functions print)": per_event["log_bytes"]
        * MILLION
        / 1024**3
        * prices["cloudwatch_logs"]["ingestion_per_gb"],
    }
    return {name: round(dollars, 4) for name, dollars in lines.items()}


def storage_per_million(item_bytes: float, *, retention_days: int, prices: Prices) -> float:
    """Dollars to keep a million events for the retention period (DynamoDB Standard class:
    each item's size plus 100 bytes of per-item overhead, billed per GB-month)."""
    gb = MILLION * (item_bytes + 100) / 1024**3
    months = retention_days / (365 / 12)
    return round(gb * months * prices["dynamodb_on_demand"]["storage_gb_month"], 4)


def lake_per_million(
    per_event: Mapping[str, float], *, retention_days: int, prices: Prices
) -> dict[str, float]:
    """Dollars per million events for the data lake, by line. `per_event` holds:
    lambda_invocations, lambda_gb_seconds (the lake's stream readers, and the stream's
    readers taking the TTL's deletions), s3_puts, s3_gets, glue_requests, parquet_bytes (kept
    for the retention, S3 Standard) and query_bytes (what one query a day over a month's
    events scans, per event: Athena reads only the columns a query names, and bills at least
    10 MB a query, which `query_bytes` must already count)."""
    s3, athena = prices["s3"], prices["athena"]
    months = retention_days / (365 / 12)
    lines = {
        "Lake: Lambda requests": per_event["lambda_invocations"]
        * prices["lambda"]["requests_per_million"],
        "Lake: Lambda duration (arm64, estimated)": per_event["lambda_gb_seconds"]
        * MILLION
        * prices["lambda"]["gb_second_arm64"],
        "Lake: S3 requests (PUT, GET)": (
            per_event["s3_puts"] * s3["put_requests_per_thousand"]
            + per_event["s3_gets"] * s3["get_requests_per_thousand"]
        )
        * MILLION
        / 1000,
        "Lake: Glue Data Catalog requests": per_event["glue_requests"]
        * prices["glue"]["requests_per_million"],
        f"Lake: S3 Standard storage for {retention_days} days (Parquet)": per_event["parquet_bytes"]
        * MILLION
        / 1024**3
        * months
        * s3["standard_storage_gb_month"],
        "Lake: Athena queries (a funnel a day over a month's events)": per_event["query_bytes"]
        * MILLION
        / 1024**4
        * athena["scanned_per_tb"],
    }
    return {name: round(dollars, 4) for name, dollars in lines.items()}


def athena_scanned(bytes_per_event: float, *, events: int, queries: int, prices: Prices) -> float:
    """Bytes Athena bills for `queries` queries each over `events` events' columns of
    `bytes_per_event`, with its minimum per query."""
    minimum = prices["athena"]["minimum_mb_per_query"] * 1024**2
    return queries * max(minimum, bytes_per_event * events)
