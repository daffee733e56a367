"""A local event source mapping: reads a table's DynamoDB stream from moto and invokes the
consuming function the way Lambda does.

- Batches of up to `batch_size` records, gathered for at most the batching window (its local
  value where the source gives one).
- The function answers partial batch failures (`batchItemFailures`); the batch is retried from
  the first failed record, with backoff, up to `retry_attempts` times. A batch that still fails
  is reported (where Lambda would send it to the on-failure destination) and skipped.
- A function that raises has its whole batch retried the same way.

moto's own event source mappings need Docker and swallow stream records, so this runner reads
the stream itself with GetRecords. moto runs in this process (`cdp dev`'s server, the tests'
`mock_aws`), so a runner first looks at how many records the stream has ever had: while that
is unchanged since it last read everything, it asks nothing. Four runners asking moto over
HTTP ten times a second kept half a core busy in an idle `cdp dev`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.wiring import FunctionSpec, StreamSource
from workbench.local.aws import REGION
from workbench.local.invocation import ACCOUNT_ID
from workbench.local.worker import Worker

POLL_SECONDS = 0.1
# moto keeps one shard per stream for the table's life; looked for again now and then all
# the same, as Lambda's mapping does.
SHARD_DISCOVERY_SECONDS = 10.0
Invoke = Callable[[FunctionSpec, dict[str, Any]], dict[str, Any]]


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    first_seen: float = 0.0
    attempts: int = 0
    closed: bool = False


class StreamRunner(Worker):
    def __init__(
        self,
        spec: FunctionSpec,
        *,
        table_name: str,
        dynamodb: Any,
        streams: Any,
        invoke: Invoke,
        log: Callable[[str], None] | None = None,
    ) -> None:
        assert spec.stream is not None
        super().__init__(
            f"stream-{spec.name}",
            label=f"stream runner for {spec.name}",
            pause=POLL_SECONDS,
            log=log,
        )
        self.spec = spec
        self.source: StreamSource = spec.stream
        window = self.source.local_batching_window_seconds
        self.window = self.source.batching_window_seconds if window is None else window
        self.table_name = table_name
        self.dynamodb = dynamodb
        self.streams = streams
        self.invoke = invoke
        self.stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self.shards: dict[str, _Shard] = {}
        self.discarded: list[dict[str, Any]] = []  # what Lambda would send to the DLQ
        self.invocations = 0
        # Per shard, the sequence number of the last record this mapping is done with (taken
        # by the function or discarded): what the stream may forget (`StreamRetention`).
        self.checkpoints: dict[str, int] = {}
        self._discovered_at = -SHARD_DISCOVERY_SECONDS
        # How many records the stream had ever had when this runner last read all of them.
        self._read_up_to: int | None = None

    def step(self) -> None:
        if time.monotonic() - self._discovered_at >= SHARD_DISCOVERY_SECONDS:
            self._discover_shards()
        added = records_added(self.table_name)
        # nothing new since everything was read: no call to make, only a batch to deliver
        # when its window is over
        fetch = added is None or added != self._read_up_to
        read_all = True
        for shard in list(self.shards.values()):
            read_all = self._poll(shard, fetch=fetch) and read_all
        self._read_up_to = added if read_all else None

    def _discover_shards(self) -> None:
        self._discovered_at = time.monotonic()
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self.shards:
                iterator = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]
                self.shards[shard["ShardId"]] = _Shard(shard["ShardId"], iterator)

    def _poll(self, shard: _Shard, *, fetch: bool = True) -> bool:
        """Read what the shard holds (when `fetch`), and deliver a batch that is full or whose
        window is over; answers whether everything the shard held before is read."""
        read_all = not fetch or not shard.iterator
        if fetch and shard.iterator and len(shard.pending) < self.source.batch_size:
            limit = self.source.batch_size - len(shard.pending)
            answer = self.streams.get_records(ShardIterator=shard.iterator, Limit=limit)
            shard.iterator = answer.get("NextShardIterator")
            if answer["Records"] and not shard.pending:
                shard.first_seen = time.monotonic()
            shard.pending += answer["Records"]
            read_all = len(answer["Records"]) < limit
        if not shard.pending:
            return read_all
        window_over = time.monotonic() - shard.first_seen >= self.window
        if len(shard.pending) < self.source.batch_size and not window_over:
            return read_all
        self._deliver(shard)
        return read_all

    def _deliver(self, shard: _Shard) -> None:
        batch = shard.pending[: self.source.batch_size]
        failed_from = self._invoke(batch)
        if failed_from is None:
            shard.pending = shard.pending[len(batch) :]
            self._checkpoint(shard, batch[-1])
            shard.attempts = 0
            shard.first_seen = time.monotonic()
            return
        # Checkpoint before the first failure; retry from it.
        if failed_from:
            self._checkpoint(shard, batch[failed_from - 1])
        shard.pending = shard.pending[failed_from:]
        shard.attempts += 1
        if shard.attempts > self.source.retry_attempts:
            dropped = shard.pending[: len(batch) - failed_from]
            self.discarded += dropped
            self.log(
                f"  {self.spec.name}: {len(dropped)} stream records failed "
                f"{self.source.retry_attempts} retries and were discarded "
                f"(sequence numbers {dropped[0]['dynamodb']['SequenceNumber']}..)"
            )
            shard.pending = shard.pending[len(dropped) :]
            shard.attempts = 0
            self._checkpoint(shard, dropped[-1])
            return
        self.wait(min(2.0, 0.1 * 2**shard.attempts))

    def _checkpoint(self, shard: _Shard, record: dict[str, Any]) -> None:
        self.checkpoints[shard.shard_id] = int(record["dynamodb"]["SequenceNumber"])

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """Invoke the function; answer the index of the first failed record, or None."""
        event = {"Records": [self._lambda_record(record) for record in batch]}
        self.invocations += 1
        try:
            answer = self.invoke(self.spec, event)
        except Exception as error:
            self.log(f"  {self.spec.name} failed: {error!r}")
            return 0
        failures = {
            item.get("itemIdentifier") for item in (answer or {}).get("batchItemFailures", [])
        }
        for index, record in enumerate(batch):
            if record["dynamodb"]["SequenceNumber"] in failures:
                return index
        return None

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return lambda_record(record, self.stream_arn)


def records_added(table_name: str) -> int | None:
    """How many records moto has added to the table's stream since the table was made (none
    are taken back: forgetting old ones keeps the count, `retention.StreamRecords`); None when
    moto does not run in this process or has no such table."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[ACCOUNT_ID][REGION].tables.get(table_name)
    shard = getattr(table, "stream_shard", None)
    return None if shard is None else len(shard.items)


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """boto3's parsed stream record -> the JSON Lambda delivers (binary as base64, epoch
    times), for the local event source mappings and `cdp redrive`."""
    converted: dict[str, Any] = _as_lambda_json(record)
    converted["eventSourceARN"] = stream_arn
    converted.setdefault("awsRegion", REGION)
    converted["eventVersion"] = "1.1"
    return converted


def _as_lambda_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {key: _as_lambda_json(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_as_lambda_json(item) for item in value]
    return value
