"""What AWS forgets and moto keeps, forgotten in `cdp dev` too, so that a long session holds
what its data needs and not its history.

- **Stream records.** DynamoDB Streams keeps a record 24 hours; moto keeps every record for as
  long as the process lives (every event, every profile write with its old and new image).
  Here a record is forgotten once every event source mapping reading its stream is done with
  it (took it or discarded it), which is sooner than 24 hours: `cdp dev`'s mappings are the
  streams' only readers. A record a mapping has not yet taken is never forgotten, however old:
  `POST /_dev/clock` moves the clock, not the work the mappings could have done in a day.
  A reader positioned before what was forgotten (an iterator from `TRIM_HORIZON` or an old
  sequence number) reads on from the first record still held, as from AWS's trim horizon;
  sequence numbers and iterators keep counting as before.
- **Shard iterators.** One expires 15 minutes after it was handed out; moto keeps every one,
  and a mapping's every read (up to ten a second, per stream, while records come) hands out a
  new one. An iterator a mapping still holds is kept: Lambda would ask for a new one, the
  local mappings do not.
- **Every object moto ever made.** moto's models add each instance they make to a list of
  their class (`instances_tracked`, for moto's own dashboard), so that nothing moto made is
  ever freed: each version of each item ever written, each stream record, iterator and queue
  message. Those lists are emptied at each pass (moto's `reset_model_data`, which drops only
  them); what a table, stream or queue still holds stays.

moto's state is reached in this process (its server runs here), through its backends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from cdp.runtime import clock
from workbench.local.aws import REGION
from workbench.local.invocation import ACCOUNT_ID
from workbench.local.streams import StreamRunner
from workbench.local.worker import Worker

PASS_SECONDS = 5.0
ITERATOR_LIFETIME_SECONDS = 15 * 60  # DynamoDB Streams' GetShardIterator documentation
METRICS_KEPT = timedelta(hours=25)  # the console's overview reads the last day


class StreamRecords:
    """Stands in for moto's list of a shard's records (`StreamShard.items`) with its beginning
    forgotten: positions count from the shard's first record ever, so `len()` (from which
    moto numbers the next record) is unchanged by forgetting; a slice from a forgotten
    position starts at the first record held."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[Any] = []
        self.forgotten = 0

    def __len__(self) -> int:
        with self._lock:
            return self.forgotten + len(self._records)

    def append(self, record: Any) -> None:
        with self._lock:
            self._records.append(record)

    def __getitem__(self, index: slice) -> list[Any]:
        """moto asks for `[position : position + limit]`; from a forgotten position, the answer
        is the first `limit` records held."""
        with self._lock:
            start, stop, _ = index.indices(self.forgotten + len(self._records))
            if start < self.forgotten:
                start, stop = self.forgotten, self.forgotten + max(stop - start, 0)
            return self._records[start - self.forgotten : stop - self.forgotten]

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            return iter(list(self._records))

    def __deepcopy__(self, memo: dict[int, Any]) -> StreamRecords:
        """moto copies a whole table before a transaction and puts the copy back if the
        transaction fails: the copy holds the same records (moto never changes one)."""
        copied = StreamRecords()
        with self._lock:
            copied._records = list(self._records)
            copied.forgotten = self.forgotten
        return copied

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._records)

    def forget_before(self, position: int) -> int:
        """Forget the records before `position` (counted from the first record ever);
        answers how many were forgotten now."""
        with self._lock:
            count = min(position - self.forgotten, len(self._records))
            if count <= 0:
                return 0
            del self._records[:count]
            self.forgotten += count
            return count


def _backends() -> tuple[Any, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    return dynamodb_backends[ACCOUNT_ID][REGION], dynamodbstreams_backends[ACCOUNT_ID][REGION]


def forget_model_instances() -> None:
    """Drop moto's list of every instance of its models (its dashboard's), nothing else."""
    from moto.core.model_instances import reset_model_data

    reset_model_data()


def stream_shard(table_name: str) -> Any:
    """moto's shard of a table's stream (moto keeps one per table)."""
    return _backends()[0].get_table(table_name).stream_shard


def records_of(table_name: str) -> StreamRecords:
    records: StreamRecords = stream_shard(table_name).items
    return records


def forget_old_metrics(before: datetime) -> int:
    """Forget the metrics put before `before` (the overview reads the last day); answers how
    many data points."""
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[ACCOUNT_ID][REGION]
    kept = [datum for datum in backend.metric_data if not _older(datum.timestamp, before)]
    forgotten = len(backend.metric_data) - len(kept)
    backend.metric_data = kept
    return forgotten


def _older(moment: Any, before: datetime) -> bool:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if not isinstance(moment, datetime):
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) < before


class Retention(Worker):
    """Every few seconds, forgets the stream records every reader is done with, the expired
    shard iterators and moto's list of every object it made. Made before anything writes to
    the streamed tables: it puts `StreamRecords` in place of moto's lists."""

    def __init__(
        self,
        runners: list[StreamRunner],
        *,
        pause: float = PASS_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("retention", label="retention", pause=pause)
        self.readers: dict[str, list[StreamRunner]] = {}
        for runner in runners:
            self.readers.setdefault(runner.table_name, []).append(runner)
        for table_name in self.readers:
            shard = stream_shard(table_name)
            if not isinstance(shard.items, StreamRecords):
                if shard.items:
                    raise RuntimeError(f"{table_name}'s stream was written before retention")
                shard.items = StreamRecords()
        self.now = now
        self._handed_out: dict[str, float] = {}  # iterator -> when first seen, oldest first

    def step(self) -> None:
        self.forget_read_records()
        self.expire_iterators()
        forget_model_instances()
        forget_old_metrics(clock.utc_now() - METRICS_KEPT)  # stamped by the platform's clock

    def forget_read_records(self) -> int:
        """Forget, in each stream, what every reader has passed; answers how many."""
        forgotten = 0
        for table_name, readers in self.readers.items():
            shard = stream_shard(table_name)
            checkpoints = [reader.checkpoints.get(shard.id) for reader in readers]
            if None in checkpoints:
                continue  # a reader that has taken nothing yet may need everything
            passed = min(number for number in checkpoints if number is not None)
            position = passed + 1 - shard.starting_sequence_number
            # Looked up at each pass: a failed transaction puts back a copy of the table.
            forgotten += records_of(table_name).forget_before(position)
        return forgotten

    def expire_iterators(self) -> int:
        """Forget the shard iterators first seen more than 15 minutes ago, except those a
        mapping holds now; answers how many."""
        iterators = _backends()[1].shard_iterators
        now = self.now()
        for key in list(iterators):
            self._handed_out.setdefault(key, now)
        held = {
            shard.iterator
            for readers in self.readers.values()
            for reader in readers
            for shard in list(reader.shards.values())
        }
        expired = 0
        for key, seen in list(self._handed_out.items()):
            if now - seen < ITERATOR_LIFETIME_SECONDS:
                break
            if key in held:
                continue
            iterators.pop(key, None)
            del self._handed_out[key]
            expired += 1
        return expired
