"""The lake's part of the benchmark: what its writes are counted as (bench.lake) and how the
lake's lines are priced (bench.cost)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bench.cost import athena_scanned, lake_per_million
from bench.lake import Requests
from cdp.lake import writer
from cdp.lake.tables import ensure_tables, open_catalog
from tests.unit.test_lake_writer import event

PRICES = {
    "lambda": {"requests_per_million": 0.2, "gb_second_arm64": 0.0000133334},
    "s3": {
        "standard_storage_gb_month": 0.023,
        "put_requests_per_thousand": 0.005,
        "get_requests_per_thousand": 0.0004,
    },
    "glue": {"requests_per_million": 1.0},
    "athena": {"scanned_per_tb": 5.0, "minimum_mb_per_query": 10},
}


def test_a_commit_is_counted_as_the_files_it_writes_and_the_catalog_calls_it_makes(
    tmp_path: Path,
) -> None:
    # given the lake's tables, made before counting (a cold start's work)
    catalog = open_catalog(str(tmp_path / "lake"))
    ensure_tables(catalog)
    requests = Requests()
    day = datetime(2026, 11, 20, 10)
    batch = [(n + 1, event(f"m{n}", source="web" if n % 2 else "app", at=day)) for n in range(6)]

    # when a batch of two sources on one day is appended
    with requests.installed():
        assert writer.append_events(catalog, batch) == 6
    counted = requests.taken()

    # then: two data files, a manifest, a manifest list and the table's metadata are PUT;
    # the table is read from the catalog (GetTable) and committed (GetTable, UpdateTable)
    assert counted["s3.PutObject"] == 5
    assert counted["glue.UpdateTable"] == 1
    assert counted["glue.GetTable"] == 2
    assert counted["s3.GetObject.parquet"] == 0  # an empty table: no file of the day to read
    assert requests.taken() == {}

    # and a second batch of the same day reads the day's files to leave out what is there
    with requests.installed():
        writer.append_events(catalog, [(100, event("m-late", at=day))])
    assert requests.taken()["s3.GetObject.parquet"] >= 1


def test_the_lakes_lines_are_its_requests_storage_and_queries_at_list_prices() -> None:
    lines = lake_per_million(
        {
            "lambda_invocations": 0.001,
            "lambda_gb_seconds": 0.0001,
            "s3_puts": 0.005,
            "s3_gets": 0.01,
            "glue_requests": 0.003,
            "parquet_bytes": 100,
            "query_bytes": 300,
        },
        retention_days=365,
        prices=PRICES,
    )
    assert lines["Lake: Lambda requests"] == pytest.approx(0.0002)
    assert lines["Lake: S3 requests (PUT, GET)"] == pytest.approx(0.025 + 0.004)
    assert lines["Lake: Glue Data Catalog requests"] == pytest.approx(0.003)
    # 100 bytes for a million events are 0.0931 GB, kept 12 months at $0.023
    storage = lines["Lake: S3 Standard storage for 365 days (Parquet)"]
    assert storage == pytest.approx(1e8 / 1024**3 * 12 * 0.023, abs=1e-4)
    athena = lines["Lake: Athena queries (a funnel a day over a month's events)"]
    assert athena == pytest.approx(3e8 / 1024**4 * 5, abs=1e-4)


def test_athena_bills_at_least_ten_mb_a_query() -> None:
    # a small month: 1,000 events of 10 bytes scan 10 KB, billed as 10 MB, 30 times
    assert athena_scanned(10, events=1000, queries=30, prices=PRICES) == 30 * 10 * 1024**2
    assert athena_scanned(20, events=10**6, queries=1, prices=PRICES) == 20 * 10**6
