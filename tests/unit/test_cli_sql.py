"""`cdp sql` against a deployed stack: Athena's calls, as botocore's stubber checks them
(moto's Athena runs no SQL), the progress line, typed results and failures said plainly."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from workbench.cli.client import CliError
from workbench.cli.sql import as_records, athena_query

QUERY = "select source, count(*) as n from events group by 1"


def execution(state: str, scanned: int = 0, reason: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state, **({"StateChangeReason": reason} if reason else {})}
    return {
        "QueryExecution": {
            "QueryExecutionId": "q-1",
            "Status": status,
            "Statistics": {"DataScannedInBytes": scanned},
        }
    }


def athena(*states: dict[str, Any]) -> tuple[Any, Stubber]:
    client = boto3.client(
        "athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {
            "QueryString": QUERY,
            "WorkGroup": "cdp-prod",
            "QueryExecutionContext": {"Database": "cdp_prod"},
            "ClientRequestToken": ANY,
        },
    )
    for state in states:
        stubber.add_response("get_query_execution", state, {"QueryExecutionId": "q-1"})
    return client, stubber


def test_a_query_runs_in_the_stacks_workgroup_and_database_with_progress() -> None:
    client, stubber = athena(execution("QUEUED"), execution("RUNNING", 12_000_000),
                             execution("SUCCEEDED", 25_000_000))  # fmt: skip
    columns = [{"Name": "source", "Type": "varchar"}, {"Name": "n", "Type": "bigint"}]
    rows = [["source", "n"], ["web", "3"], ["crm", "1"]]
    stubber.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "ResultSetMetadata": {"ColumnInfo": [{**c, "Label": c["Name"]} for c in columns]},
                "Rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
            }
        },
        {"QueryExecutionId": "q-1"},
    )
    lines: list[str] = []
    with stubber:
        answer = athena_query(client, QUERY, workgroup="cdp-prod", database="cdp_prod",
                              progress=lines.append, sleep=lambda _: None)  # fmt: skip

    assert as_records(answer) == [{"source": "web", "n": 3}, {"source": "crm", "n": 1}]
    assert [line.split(",")[0] for line in lines] == ["queued", "running", "succeeded"]
    assert lines[-1].endswith("25.0 MB scanned")


def test_a_failed_query_says_why() -> None:
    reason = "COLUMN_NOT_FOUND: line 1:8: Column 'nothing' cannot be resolved"
    client, stubber = athena(execution("FAILED", reason=reason))
    with stubber, pytest.raises(CliError, match=r"^the query: COLUMN_NOT_FOUND"):
        athena_query(client, QUERY, workgroup="cdp-prod", database="cdp_prod",
                     progress=lambda _: None, sleep=lambda _: None)  # fmt: skip
