"""The data lake's share of an event's cost: the workload end to end with the lake's stream
readers on (`lake_writer` on the events stream, `lake_profiles` on the profiles stream, each
at its deployed batch size), writing a local lake with the same code that writes S3 and Glue
in AWS; then the bytes the lake keeps per event, and what the TTL's deletions at the end of
the hot window cost the stream readers.

What AWS would be asked for is counted where it happens here: every file the lake's code
opens for writing (one S3 PUT each: the files are far below the multipart size) or for
reading (S3 GETs, priced with the assumption in `bench/prices.json`), and every catalog call
(Glue: `GetTable` to load a table, `GetTable` and `UpdateTable` to commit). pyiceberg and
pyarrow work in threads of their own, so the lake functions' CPU time is the process's, not
only the calling thread's.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.pipeline import STREAM_BATCH, Platform, StreamFeed
from bench.recording import Recorder
from bench.segments import segment_definitions
from bench.workload import Workload

LAKE_FUNCTIONS = {
    "lake_writer": ("functions.lake_writer.handler", ("_catalog", "_suppressions")),
    "lake_profiles": ("functions.lake_profiles.handler", ("_dependencies",)),
}
# The columns one funnel query reads (README, "Querying your data"): Athena reads only these.
FUNNEL_COLUMNS = ("event", "identity", "timestamp")


class Requests:
    """S3 and Glue requests the lake's code makes, by kind (`s3.PutObject`, `glue.GetTable`)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Count while inside: pyiceberg's local file system and SQL catalog, standing in for
        S3 and Glue, report each file opened and each table loaded or committed."""
        from pyiceberg.catalog.sql import SqlCatalog
        from pyiceberg.io import pyarrow as arrow_io

        requests = self

        class Counting(arrow_io.PyArrowLocalFileSystem):
            def open_output_stream(self, path: str, *args: Any, **kwargs: Any) -> Any:
                requests.counts["s3.PutObject"] += 1
                return super().open_output_stream(path, *args, **kwargs)

            def open_input_file(self, path: str, *args: Any, **kwargs: Any) -> Any:
                kind = "s3.GetObject.parquet" if path.endswith(".parquet") else "s3.GetObject"
                requests.counts[kind] += 1
                return super().open_input_file(path, *args, **kwargs)

            def open_input_stream(self, path: str, *args: Any, **kwargs: Any) -> Any:
                requests.counts["s3.GetObject"] += 1
                return super().open_input_stream(path, *args, **kwargs)

        load_table, commit_table = SqlCatalog.load_table, SqlCatalog.commit_table

        def counted_load(catalog: Any, *args: Any, **kwargs: Any) -> Any:
            requests.counts["glue.GetTable"] += 1
            return load_table(catalog, *args, **kwargs)

        def counted_commit(catalog: Any, *args: Any, **kwargs: Any) -> Any:
            # It loads the table first (counted there), as Glue's reads it with GetTable.
            requests.counts["glue.UpdateTable"] += 1
            return commit_table(catalog, *args, **kwargs)

        initialize = arrow_io.PyArrowFileIO._initialize_local_fs
        setattr(arrow_io.PyArrowFileIO, "_initialize_local_fs", lambda _: Counting())  # noqa: B010
        setattr(SqlCatalog, "load_table", counted_load)  # noqa: B010
        setattr(SqlCatalog, "commit_table", counted_commit)  # noqa: B010
        try:
            yield
        finally:
            setattr(arrow_io.PyArrowFileIO, "_initialize_local_fs", initialize)  # noqa: B010
            setattr(SqlCatalog, "load_table", load_table)  # noqa: B010
            setattr(SqlCatalog, "commit_table", commit_table)  # noqa: B010

    def taken(self) -> Counter[str]:
        """What was counted since the last call."""
        taken, self.counts = self.counts, Counter()
        return taken


def measure(recorder: Recorder, workload: Workload, *, segments: int = 10) -> dict[str, Any]:
    """Run the workload with the lake on; answer the lake's figures (per event, per commit)
    and the invocations for the cost model (`_invocations`, not written out)."""
    from infra.wiring import LAKE_PROFILES, LAKE_WRITER

    requests = Requests()
    invocations: list[tuple[str, int, dict[str, int]]] = []
    commits: list[dict[str, int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as directory:
        warehouse = Path(directory) / "lake"
        with (
            requests.installed(),
            Platform(
                recorder,
                segments=segment_definitions(segments),
                lake=LAKE_FUNCTIONS,
                warehouse=str(warehouse),
            ) as platform,
        ):
            events_feed = StreamFeed(platform.tables["EVENTS_TABLE"])
            profiles_feed = StreamFeed(platform.tables["PROFILES_TABLE"])
            recorder.reset()
            platform.run(workload)
            # The lake's readers take what the streams carried, in their own batches.
            records = {"events": events_feed.new_records(), "profiles": profiles_feed.new_records()}
            _cold_start(platform, requests)
            for function, table, size in (
                ("lake_writer", "events", LAKE_WRITER.stream.batch_size),  # type: ignore[union-attr]
                ("lake_profiles", "profiles", LAKE_PROFILES.stream.batch_size),  # type: ignore[union-attr]
            ):
                stream = records[table]
                for begin in range(0, len(stream), size):
                    batch = stream[begin : begin + size]
                    cpu, asked = _invoke(recorder, platform, requests, function, batch)
                    invocations.append((function, cpu, dict(asked)))
                    if function == "lake_writer":
                        commits.append({"records": len(batch), **asked})
            stored = _stored(warehouse)
            # The end of the hot window: the TTL deletes every item (free in DynamoDB), and the
            # stream hands each deletion to both readers of the events table, who leave it.
            removals = _expire_all(platform, events_feed)
            ttl: dict[str, Any] = {"records": len(removals), "invocations": {}}
            for function, size in (
                ("profile_builder", STREAM_BATCH),
                ("lake_writer", LAKE_WRITER.stream.batch_size),  # type: ignore[union-attr]
            ):
                runs = 0
                for begin in range(0, len(removals), size):
                    cpu, asked = _invoke(
                        recorder, platform, requests, function, removals[begin : begin + size]
                    )
                    invocations.append((f"{function} (TTL)", cpu, dict(asked)))
                    runs += 1
                ttl["invocations"][function] = runs
            after = _stored(warehouse)
    messages = platform.traffic.messages
    writer = commits
    per_commit = {
        kind: round(statistics.mean(c.get(kind, 0) for c in writer), 2)
        for kind in sorted({k for c in writer for k in c if k != "records"})
    }
    return {
        "messages": messages,
        "events_stored": stored["rows"],
        "stream_records": {table: len(found) for table, found in records.items()},
        "writer_batch_size": LAKE_WRITER.stream.batch_size,  # type: ignore[union-attr]
        "commits": len(writer),
        "records_per_commit": round(statistics.mean(c["records"] for c in writer), 1),
        "requests_per_commit": per_commit,
        "requests_per_event": {
            kind: round(sum(asked.get(kind, 0) for _, _, asked in invocations) / messages, 5)
            for kind in sorted({k for _, _, asked in invocations for k in asked})
        },
        "stored": stored,
        "after_ttl": {"rows": after["rows"]},
        "ttl": ttl,
        "cpu_ms_per_invocation": {
            name: round(statistics.mean(cpu for n, cpu, _ in invocations if n == name) / 1e6, 1)
            for name in sorted({n for n, _, _ in invocations})
        },
        "_invocations": invocations,
    }


def _cold_start(platform: Platform, requests: Requests) -> None:
    """Open each lake function's catalog once (creating the tables): a cold start's work,
    not a batch's."""
    import importlib

    for module_name, caches in LAKE_FUNCTIONS.values():
        module = importlib.import_module(module_name)
        getattr(module, caches[0])()
    requests.taken()


def _invoke(
    recorder: Recorder,
    platform: Platform,
    requests: Requests,
    function: str,
    batch: list[dict[str, Any]],
) -> tuple[int, Counter[str]]:
    """One invocation: its CPU time (the process's: pyarrow's threads included; less moto's
    answering and the recorder's own work) and the requests it made, by kind."""
    requests.taken()
    started = time.process_time_ns()
    answer, invocation = platform.invoke_measured(function, {"Records": batch})
    process_ns = time.process_time_ns() - started
    assert not answer.get("batchItemFailures"), (function, answer)
    elsewhere = process_ns - invocation.total_ns  # other threads: pyarrow's, pyiceberg's
    cpu = invocation.ours_ns + invocation.botocore_ns + max(0, elsewhere)
    asked = requests.taken() + invocation.requests
    return cpu, asked


def _expire_all(platform: Platform, feed: StreamFeed) -> list[dict[str, Any]]:
    """Delete every event item, as DynamoDB's TTL does when the hot window ends (moto has no
    TTL), outside any function; the stream's REMOVE records."""
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    table = platform.tables["EVENTS_TABLE"]
    arguments: dict[str, Any] = {"TableName": table, "ProjectionExpression": "pk, sk"}
    while True:
        answer = client.scan(**arguments)
        for key in answer["Items"]:
            client.delete_item(TableName=table, Key=key)
        if "LastEvaluatedKey" not in answer:
            break
        arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return [record for record in feed.new_records() if record["eventName"] == "REMOVE"]


def _stored(warehouse: Path) -> dict[str, Any]:
    """What the lake's events table holds, as written and after compaction into one file per
    day and source (what `lake_upkeep` does to a day of 8 files or more, and what is kept for
    the retention): rows, data files, Parquet bytes, and the bytes of the columns a funnel
    query reads (Athena bills the columns it reads)."""
    from cdp.lake.tables import EVENTS, load, open_catalog
    from cdp.lake.upkeep import compact

    catalog = open_catalog(str(warehouse))
    written = _files(load(catalog, EVENTS))
    compact(catalog, min_files=1)
    compacted = _files(load(catalog, EVENTS))
    return {"rows": compacted["rows"], "as_written": written, "compacted": compacted}


def _files(table: Any) -> dict[str, Any]:
    import pyarrow.parquet as pq

    rows = size = funnel = files = 0
    for task in table.scan().plan_files():
        path = task.file.file_path.removeprefix("file://")
        metadata = pq.ParquetFile(path).metadata
        files += 1
        rows += metadata.num_rows
        size += Path(path).stat().st_size
        for group in range(metadata.num_row_groups):
            chunks = metadata.row_group(group)
            for column in range(chunks.num_columns):
                chunk = chunks.column(column)
                if chunk.path_in_schema in FUNNEL_COLUMNS:
                    funnel += chunk.total_compressed_size
    return {
        "rows": rows,
        "files": files,
        "bytes": size,
        "bytes_per_event": round(size / max(1, rows), 1),
        "rows_per_file": round(rows / max(1, files), 1),
        "funnel_columns_bytes_per_event": round(funnel / max(1, rows), 1),
    }
