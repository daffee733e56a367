"""`cdp sql`: SQL over the data lake's tables (events, profiles, identities), by the same
names in both places. In `cdp dev`, DuckDB (embedded) reads the Parquet files pyiceberg plans
for each table; in AWS, Athena runs the query in the stack's workgroup (its result bucket and
scan limit) and database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as day_time
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from workbench.cli.client import CliError

TABLES = ("events", "profiles", "identities")


@dataclass(frozen=True)
class Answer:
    columns: list[str]
    rows: list[list[Any]]


# -- cdp dev: DuckDB over the lake's files ------------------------------------------------


def local_query(warehouse: str, query: str) -> Answer:
    """Each table a view over the Parquet files of its current snapshot (DuckDB reads only
    the columns and row groups a query needs); an empty table, an empty one of its schema.
    Locally every delete is copy-on-write (pyiceberg writes no delete files), so the files
    are the table; a table with delete files is read through pyiceberg instead."""
    import duckdb

    from cdp.lake.tables import ensure_tables, load, open_catalog

    catalog = open_catalog(warehouse)
    ensure_tables(catalog)
    # Nothing is downloaded at run time: Parquet and JSON are built in.
    connection = duckdb.connect(config={"autoinstall_known_extensions": False})
    for name in TABLES:
        table = load(catalog, name)
        tasks = list(table.scan().plan_files())
        if any(task.delete_files for task in tasks):
            connection.register(name, table.scan().to_arrow())
        elif tasks:
            files = [_local_path(task.file.file_path) for task in tasks]
            listed = ", ".join("'" + path.replace("'", "''") + "'" for path in files)
            connection.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}], "  # noqa: S608
                "union_by_name = true)"
            )
        else:
            connection.register(name, table.schema().as_arrow().empty_table())
    try:
        cursor = connection.execute(query)
        if cursor.description is None:  # a statement with no answer
            return Answer([], [])
        columns = [column[0] for column in cursor.description]
        return Answer(columns, [list(row) for row in cursor.fetchall()])
    except duckdb.Error as error:
        raise CliError(f"the query: {_first_line(str(error))}") from None
    finally:
        connection.close()


def _local_path(location: str) -> str:
    parsed = urlparse(location)
    return url2pathname(parsed.path) if parsed.scheme == "file" else location


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "failed"


# -- AWS: Athena ------------------------------------------------------------------------

RUNNING = ("QUEUED", "RUNNING")


def stack_lake(cloudformation: Any, stack: str) -> tuple[str, str]:
    """The stack's Athena workgroup and Glue database, from its outputs."""
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as error:
        raise CliError(f"cannot read stack {stack}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    if "LakeWorkgroupName" not in outputs:
        raise CliError(f"stack {stack} has no data lake (deploy this version first)")
    return outputs["LakeWorkgroupName"], outputs.get("LakeDatabaseName", "cdp")


def athena_query(
    athena: Any,
    query: str,
    *,
    workgroup: str,
    database: str,
    progress: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> Answer:
    """Start the query, report its state and bytes scanned while it runs, and read its
    results. Interrupted (Ctrl-C), the query is stopped: it would go on costing otherwise."""
    try:
        started = athena.start_query_execution(
            QueryString=query,
            WorkGroup=workgroup,
            QueryExecutionContext={"Database": database},
            ClientRequestToken=str(uuid.uuid4()),
        )
    except athena.exceptions.InvalidRequestException as error:
        raise CliError(f"the query: {error.response['Error'].get('Message', error)}") from None
    query_id = started["QueryExecutionId"]
    began, pause = time.monotonic(), 0.2
    try:
        while True:
            execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            state = execution["Status"]["State"]
            scanned = execution.get("Statistics", {}).get("DataScannedInBytes", 0)
            progress(
                f"{state.lower()}, {time.monotonic() - began:.0f} s, {scanned / 1e6:.1f} MB scanned"
            )
            if state not in RUNNING:
                break
            sleep(pause)
            pause = min(2.0, pause * 1.5)
    except KeyboardInterrupt:
        athena.stop_query_execution(QueryExecutionId=query_id)
        raise CliError(f"interrupted; query {query_id} stopped") from None
    if state != "SUCCEEDED":
        reason = execution["Status"].get("StateChangeReason", state.lower())
        raise CliError(f"the query: {reason}")
    return _athena_results(athena, query_id)


def _athena_results(athena: Any, query_id: str) -> Answer:
    columns: list[str] = []
    types: list[str] = []
    rows: list[list[Any]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        result = page["ResultSet"]
        if not columns:
            info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = [column["Name"] for column in info]
            types = [column.get("Type", "varchar") for column in info]
        rows += [
            [
                _typed(cell.get("VarCharValue"), kind)
                for cell, kind in zip(row["Data"], types, strict=False)
            ]
            for row in result["Rows"]
        ]
    # A SELECT's first row repeats the column names.
    if rows and [str(value) for value in rows[0]] == columns:
        rows = rows[1:]
    return Answer(columns, rows)


def _typed(value: str | None, kind: str) -> Any:
    if value is None:
        return None
    try:
        if kind in ("tinyint", "smallint", "integer", "bigint"):
            return int(value)
        if kind in ("float", "real", "double", "decimal"):
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value == "true"
    return value


# -- output -----------------------------------------------------------------------------


def as_records(answer: Answer) -> list[dict[str, Any]]:
    """Rows as JSON objects; a repeated column name gets a suffix (`id`, `id_2`)."""
    names: list[str] = []
    for column in answer.columns:
        name, number = column, 1
        while name in names:
            number += 1
            name = f"{column}_{number}"
        names.append(name)
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in answer.rows]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | day_time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def cells(answer: Answer) -> tuple[Sequence[str], list[list[Any]]]:
    return answer.columns, [[_plain(v) for v in row] for row in answer.rows]
