"""`cdp dev` forgets what AWS forgets (workbench.local.retention): stream records every reader
is done with, and shard iterators 15 minutes old. Promises: nothing a reader has not taken is
forgotten, nothing forgotten is read again, what is held stays bounded by what the slowest
reader has still to take, and the readers go on as before.

The local event source mappings (`StreamRunner`) read moto's stream here as in `cdp dev`,
stepped by the test instead of their threads.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.runtime import tables
from infra.wiring import PROFILE_BUILDER, FunctionSpec, StreamSource
from workbench.local.aws import REGION
from workbench.local.retention import (
    ITERATOR_LIFETIME_SECONDS,
    Retention,
    records_of,
    stream_shard,
)
from workbench.local.streams import StreamRunner

# Fake credentials (an environment only: the same for every example Hypothesis tries).
pytestmark = pytest.mark.usefixtures("aws_credentials")

TABLE = "retention-events"
BATCH = 5


@dataclass
class Reader:
    """A consuming function: what it took, in order; it refuses the sequence numbers in
    `refuse` (each time it is offered them)."""

    taken: list[int] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)

    def __call__(self, spec: FunctionSpec, event: dict[str, Any]) -> dict[str, Any]:
        numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in event["Records"]]
        refused = [number for number in numbers if number in self.refuse]
        taken = numbers if not refused else numbers[: numbers.index(refused[0])]
        self.taken += taken
        return {"batchItemFailures": [{"itemIdentifier": str(number)} for number in refused]}


@dataclass
class Streams:
    dynamodb: Any
    streams: Any
    written: int = 0

    def runner(self, reader: Reader, name: str, *, retries: int = 10) -> StreamRunner:
        source = StreamSource(
            tables.EVENTS, batch_size=BATCH, batching_window_seconds=0, retry_attempts=retries
        )
        spec = FunctionSpec(
            name=name,
            handler=PROFILE_BUILDER.handler,
            settings=PROFILE_BUILDER.settings,
            description="a reader",
            stream=source,
        )
        return StreamRunner(
            spec,
            table_name=TABLE,
            dynamodb=self.dynamodb,
            streams=self.streams,
            invoke=reader,
            log=lambda line: None,
        )

    def write(self, count: int) -> None:
        for _ in range(count):
            self.written += 1
            self.dynamodb.put_item(
                TableName=TABLE, Item={"pk": {"S": "user_id:ada"}, "sk": {"S": f"{self.written}"}}
            )

    def sequence_numbers(self) -> list[int]:
        """Every record's sequence number, oldest first (what a reader from the start sees)."""
        shard = stream_shard(TABLE)
        return [shard.starting_sequence_number + n for n in range(len(shard.items))]


@contextmanager
def local_streams() -> Iterator[Streams]:
    from moto import mock_aws

    with mock_aws():
        config = Config(account_id_endpoint_mode="disabled")
        dynamodb = boto3.client("dynamodb", region_name=REGION, config=config)
        dynamodb.create_table(**tables.EVENTS.create_table_args(TABLE))
        yield Streams(dynamodb, boto3.client("dynamodbstreams", region_name=REGION, config=config))


def drain(runner: StreamRunner) -> None:
    for _ in range(1000):
        before = runner.invocations
        runner.step()
        if runner.invocations == before:
            return


def held(retention: Retention) -> int:
    return records_of(TABLE).held


# Steps of a session: write n records, let reader 0 or 1 poll once, or a retention pass.
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(1, 12)),
        st.tuples(st.just("poll"), st.integers(0, 1)),
        st.tuples(st.just("retain"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_every_reader_takes_every_record_once_and_only_what_all_took_is_forgotten(
    steps: list[tuple[str, int]],
) -> None:
    with local_streams() as local:
        # given two mappings on one stream, one quick and one that falls behind
        readers = [Reader(), Reader()]
        runners = [local.runner(reader, f"reader-{n}") for n, reader in enumerate(readers)]
        retention = Retention(runners)

        # when writes, polls and retention passes come in any order
        for action, argument in steps:
            if action == "write":
                local.write(argument)
            elif action == "poll":
                runners[argument].step()
            else:
                retention.forget_read_records()
                # then nothing either reader has still to take is forgotten
                slowest = min(len(reader.taken) for reader in readers)
                assert held(retention) == local.written - slowest

        # then, once both have caught up, each took every record once, in order
        for runner in runners:
            drain(runner)
        for reader in readers:
            assert reader.taken == local.sequence_numbers()
        # and what is held is what neither has passed: nothing, after a pass
        retention.forget_read_records()
        assert held(retention) == 0


def test_a_long_session_holds_only_what_the_readers_have_still_to_take() -> None:
    with local_streams() as local:
        reader = Reader()
        runner = local.runner(reader, "reader")
        retention = Retention([runner])

        most = 0
        for _ in range(60):
            local.write(2 * BATCH)
            drain(runner)
            retention.forget_read_records()
            most = max(most, held(retention))

        assert local.written == 600
        assert reader.taken == local.sequence_numbers()
        assert most == 0
        # the numbering goes on where it was: moto numbers a record from the count written
        local.write(1)
        drain(runner)
        assert reader.taken[-1] == reader.taken[-2] + 1


def test_records_refused_until_retries_run_out_are_held_until_discarded() -> None:
    with local_streams() as local:
        first = stream_shard(TABLE).starting_sequence_number
        reader = Reader(refuse={first + 1})
        runner = local.runner(reader, "reader", retries=1)
        retention = Retention([runner])
        local.write(3)

        # when the first record is taken and the second refused, it and what follows are held
        runner.step()
        retention.forget_read_records()
        assert reader.taken == [first]
        assert held(retention) == 2

        # when its retry fails too, the mapping discards the rest of the batch, which goes
        runner.step()
        retention.forget_read_records()
        discarded = [int(record["dynamodb"]["SequenceNumber"]) for record in runner.discarded]
        assert discarded == [first + 1, first + 2]
        assert held(retention) == 0
        # and the mapping goes on with what comes next
        local.write(1)
        drain(runner)
        assert reader.taken == [first, first + 3]


def test_a_reader_from_the_trim_horizon_starts_at_the_first_record_held() -> None:
    with local_streams() as local:
        early = Reader()
        retention = Retention([local.runner(early, "early")])
        local.write(7)
        drain(retention.readers[TABLE][0])
        local.write(3)
        retention.forget_read_records()

        # when a reader starts now (TRIM_HORIZON), the forgotten records are not read again
        late = Reader()
        drain(local.runner(late, "late"))

        assert late.taken == local.sequence_numbers()[7:]
        # and one holding an iterator from before the forgetting reads on from the same place
        shard = stream_shard(TABLE)
        old = local.streams.get_shard_iterator(
            StreamArn=retention.readers[TABLE][0].stream_arn,
            ShardId=shard.id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=str(shard.starting_sequence_number),
        )["ShardIterator"]
        records = local.streams.get_records(ShardIterator=old)["Records"]
        assert [int(r["dynamodb"]["SequenceNumber"]) for r in records] == late.taken


def test_shard_iterators_expire_after_15_minutes_except_those_a_mapping_holds() -> None:
    with local_streams() as local:
        clock = [0.0]
        reader = Reader()
        runner = local.runner(reader, "reader")
        retention = Retention([runner], now=lambda: clock[0])
        iterators = retention_iterators()

        # given a mapping polling a busy stream for a while: each read hands out a new iterator
        # (a poll of a stream with nothing new asks moto nothing)
        for _ in range(50):
            local.write(1)
            runner.step()
        retention.expire_iterators()
        assert len(iterators) >= 50

        # when 15 minutes have passed since, they expire, but the one the mapping holds
        clock[0] += ITERATOR_LIFETIME_SECONDS
        expired = retention.expire_iterators()

        assert expired >= 49
        current = {shard.iterator for shard in runner.shards.values()}
        assert set(iterators) == current
        # and the mapping goes on reading
        local.write(2)
        drain(runner)
        assert reader.taken == local.sequence_numbers()

        # a mapping polling steadily holds 15 minutes' worth, give or take a pass's
        for _ in range(30):
            clock[0] += 60
            for _ in range(10):
                local.write(1)
                runner.step()
            retention.expire_iterators()
            assert len(iterators) <= 10 * (15 + 1)


def retention_iterators() -> dict[str, Any]:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    from workbench.local.invocation import ACCOUNT_ID

    iterators: dict[str, Any] = dynamodbstreams_backends[ACCOUNT_ID][REGION].shard_iterators
    return iterators


def test_what_moto_no_longer_holds_is_freed() -> None:
    from moto.dynamodb.models import dynamodb_backends

    from workbench.local.invocation import ACCOUNT_ID

    with local_streams() as local:
        reader = Reader()
        runner = local.runner(reader, "reader")
        retention = Retention([runner])
        table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(TABLE)

        # given an item written over and over, and a stream its reader has taken
        versions = []
        for _ in range(20):
            local.write(1)
            local.written = 0  # the same item again
            (stored,) = (
                item for by_sort_key in table.items.values() for item in by_sort_key.values()
            )
            versions.append(weakref.ref(stored))
        records = [weakref.ref(record) for record in records_of(TABLE)]
        drain(runner)

        # when a pass runs
        retention.step()
        gc.collect()

        # then the item's old versions and the taken stream records are gone from memory
        assert [version() is None for version in versions] == [True] * 19 + [False]
        assert all(record() is None for record in records)
        assert len(records) == 20


def test_a_failed_transaction_leaves_the_stream_and_its_retention_working() -> None:
    with local_streams() as local:
        reader = Reader()
        runner = local.runner(reader, "reader")
        retention = Retention([runner])
        local.write(3)
        drain(runner)
        retention.forget_read_records()

        # when a transaction fails, moto puts back a copy of the table it made before
        refused = {"pk": {"S": "user_id:ada"}, "sk": {"S": "1"}}
        with pytest.raises(local.dynamodb.exceptions.TransactionCanceledException):
            local.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": TABLE,
                            "Item": refused,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                ]
            )

        # then the table's stream still forgets what was taken, and a reader from its trim
        # horizon reads on from there (moto's iterators handed out before it read the old
        # table's stream, which no longer grows: a moto limit, not retention's)
        assert held(retention) == 0
        local.write(4)
        late = Reader()
        drain(local.runner(late, "late"))
        assert late.taken == local.sequence_numbers()[3:]
        assert len(late.taken) == 4


def test_a_mapping_asks_moto_nothing_while_its_stream_has_nothing_new() -> None:
    with local_streams() as local:
        reader = Reader()
        runner = local.runner(reader, "reader")
        calls: list[str] = []
        local.streams.meta.events.register(
            "before-call.dynamodb-streams", lambda model, **_: calls.append(model.name)
        )
        local.write(7)
        drain(runner)
        assert reader.taken == local.sequence_numbers()
        calls.clear()

        # given nothing new, however often it polls, no call is made
        for _ in range(100):
            runner.step()
        assert calls == []

        # and a record written is read at the next poll, whoever wrote it
        local.write(1)
        runner.step()
        assert calls == ["GetRecords"]
        assert reader.taken == local.sequence_numbers()
