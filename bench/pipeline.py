"""The platform in this process, on moto: every table, secret, queue and the bus of the stack,
the deployed handlers, and the streams between them fed as Lambda's event source mappings
feed them.

Stream batches follow a busy site with a one-second batching window: a batch holds up to 100
records and at most `per_window` requests of any one visitor (one, unless a longer window is
being studied), so a person's events are coalesced into one profile write only as far as the
requests carry them together.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.recording import Recorder, schemas_for
from bench.workload import FORM_ID, Request, Workload
from workbench.local.invocation import LambdaContext, http_api_event

REGION = "us-east-1"
PREFIX = "bench"
WEBSITE_KEY = "wk_bench_website"
MAILER_KEY = "wk_bench_mailer"
STREAM_BATCH = 100  # the event source mappings' batch size (infra.wiring)
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

FORM = {
    "id": FORM_ID,
    "name": "About your household",
    "questions_per_step": 2,
    "consent_purposes": ["personalization", "marketing"],
    "consent_text": "We use your answers to tailor offers to you.",
    "consent_version": "2026-11",
    "fields": [
        {
            "trait": "moving_soon",
            "label": "Moving in the next six months?",
            "type": "boolean",
            "purpose": "So we can offer moving insurance at the right time",
            "valid_days": 180,
        },
        {
            "trait": "children",
            "label": "How many children live with you?",
            "type": "number",
            "purpose": "For family offers",
        },
        {
            "trait": "home",
            "label": "Do you own or rent your home?",
            "type": "select",
            "options": ["own", "rent"],
            "purpose": "For mortgage and rental offers",
        },
    ],
}

# The handlers on the event path, and the lru_cached factory each keeps its wiring in.
HANDLERS = {
    "collector": ("functions.collector.handler", "_app"),
    "forms_api": ("functions.forms_api.handler", "_app"),
    "profile_builder": ("functions.profile_builder.handler", "_dependencies"),
    "publisher": ("functions.publisher.handler", "_dependencies"),
}


def lambda_environment() -> dict[str, str]:
    """What the process needs before any handler module is imported (Powertools reads it when
    it is created): credentials for moto, and Powertools as in Lambda, without tracing."""
    from infra.wiring import RUNTIME_ENV

    return {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **RUNTIME_ENV,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "bench",
    }


@dataclass
class Traffic:
    """What a run sent and what the streams carried."""

    requests: Counter[str] = field(default_factory=Counter)  # by function
    messages: int = 0
    failed_requests: int = 0
    stream_records: Counter[str] = field(default_factory=Counter)  # by table
    failed_records: int = 0
    output_bytes: Counter[str] = field(default_factory=Counter)  # printed (logs, metrics)


class Platform:
    """Start with `with Platform(recorder, segments=...) as platform:`; moto stops at exit."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        segments: list[dict[str, Any]],
        lake: Mapping[str, tuple[str, tuple[str, ...]]] | None = None,
        warehouse: str | None = None,
    ) -> None:
        """`lake`: more functions to load (name -> module, its lru_cached factories) with the
        lake `warehouse` they write; `bench.lake` invokes them."""
        self.recorder = recorder
        self.segments = segments
        self.lake = dict(lake or {})
        self.warehouse = warehouse
        self.handlers: dict[str, Handler] = {}
        self.traffic = Traffic()

    def __enter__(self) -> Platform:
        import boto3
        from moto import mock_aws

        from cdp.access.keys import ApiKey, hash_key
        from cdp.storage.config import ConfigStore
        from cdp.storage.keys import KeyStore
        from infra.config import DeploymentConfig
        from infra.wiring import FUNCTIONS, shared_environment
        from workbench.local.aws import create_bus, create_queues, create_secrets, create_tables

        os.environ.update(lambda_environment())
        self._mock = mock_aws()
        self._mock.start()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        names = create_tables(dynamodb, prefix=PREFIX)
        environment = {
            **names,
            **create_secrets(boto3.client("secretsmanager", region_name=REGION), prefix=PREFIX),
            **create_queues(boto3.client("sqs", region_name=REGION), prefix=PREFIX)[0],
            **create_bus(boto3.client("events", region_name=REGION), prefix=PREFIX),
            **({"LAKE_WAREHOUSE": self.warehouse} if self.warehouse else {}),
        }
        specs = [spec for spec in FUNCTIONS if spec.name in HANDLERS or spec.name in self.lake]
        os.environ.update(
            shared_environment(specs, environment, DeploymentConfig().function_settings())
        )
        self.tables = names
        self.recorder.schemas = schemas_for(names)
        self.recorder.peek_client = dynamodb
        now = datetime.now(UTC).isoformat()
        keys = KeyStore(names["KEYS_TABLE"], client=dynamodb)
        keys.put(ApiKey(hash_key(WEBSITE_KEY), "write", "website"), created_at=now)
        keys.put(ApiKey(hash_key(MAILER_KEY), "write", "mailer"), created_at=now)
        config = ConfigStore(names["CONFIG_TABLE"], client=dynamodb)
        config.put("form", FORM_ID, FORM, at=now)
        for segment in self.segments:
            config.put("segment", segment["id"], segment, at=now)
        self._load_handlers()
        self.events_stream = StreamFeed(names["EVENTS_TABLE"])
        self.profiles_stream = StreamFeed(names["PROFILES_TABLE"])
        return self

    def __exit__(self, *_: object) -> None:
        self._mock.stop()

    def _load_handlers(self) -> None:
        import importlib

        from cdp.storage import clients

        for factory in (clients.dynamodb, clients.events, clients.sqs, clients.s3):
            factory.cache_clear()
        wanted = {name: (module, (cache,)) for name, (module, cache) in HANDLERS.items()}
        for name, (module_name, caches) in {**wanted, **self.lake}.items():
            module = importlib.import_module(module_name)
            for cache in caches:
                getattr(module, cache).cache_clear()
            self.handlers[name] = module.handler

    # -- running ------------------------------------------------------------------------

    def run(self, workload: Workload, *, per_window: int = 1) -> None:
        """Send every request of the workload; deliver the streams whenever a window is full."""
        in_window: Counter[int] = Counter()
        records = 0
        for request in workload.requests:
            full = records + request.messages > STREAM_BATCH
            if full or any(in_window[v] >= per_window for v in request.visitors):
                self.deliver()
                in_window.clear()
                records = 0
            self.send(request)
            in_window.update(request.visitors)
            records += request.messages
        self.deliver()

    def send(self, request: Request) -> dict[str, Any]:
        event = http_event(request.path, request.body)
        answer = self.invoke(request.function, event)
        self.traffic.requests[request.function] += 1
        self.traffic.messages += request.messages
        if answer.get("statusCode") != 200:
            self.traffic.failed_requests += 1
        return answer

    def deliver(self) -> None:
        """Hand the new stream records to their consumers, as Lambda would, until none are
        left: events to the profile builder, profile changes to the publisher."""
        while True:
            delivered = self._deliver("profile_builder", self.events_stream, "events")
            delivered += self._deliver("publisher", self.profiles_stream, "profiles")
            if not delivered:
                return

    def _deliver(self, function: str, stream: StreamFeed, table: str) -> int:
        records = stream.new_records()
        for begin in range(0, len(records), STREAM_BATCH):
            batch = records[begin : begin + STREAM_BATCH]
            answer = self.invoke(function, {"Records": batch})
            self.traffic.failed_records += len(answer.get("batchItemFailures", []))
        self.traffic.stream_records[table] += len(records)
        return len(records)

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        answer, _ = self.invoke_measured(function, event)
        return answer

    def invoke_measured(self, function: str, event: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """Invoke as Lambda would, recorded; the answer and the `Invocation`."""
        printed = _Counting()
        with self.recorder.running(function) as invocation, redirect_stdout(printed):
            answer = self.handlers[function](event, LambdaContext(function_name=function))
        self.traffic.output_bytes[function] += printed.bytes
        return answer, invocation


class StreamFeed:
    """A table's DynamoDB stream (moto), read as Lambda's event source mapping reads it."""

    def __init__(self, table: str) -> None:
        import boto3
        from botocore.config import Config

        # moto answers Streams calls only without account-based endpoints
        self.streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        described = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=table)
        arn = described["Table"]["LatestStreamArn"]
        self.arn = arn
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def new_records(self) -> list[dict[str, Any]]:
        from workbench.local.streams import lambda_record

        records = []
        while True:
            answer = self.streams.get_records(ShardIterator=self.iterator, Limit=1000)
            self.iterator = answer["NextShardIterator"]
            if not answer["Records"]:
                break
            records += answer["Records"]
        return [lambda_record(record, self.arn) for record in records]


def http_event(path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the tracker's request arrives: JSON sent
    as text/plain (no CORS preflight)."""
    return http_api_event(
        method=method,
        raw_path=path,
        headers={
            "host": "api.example.com",
            "content-type": "text/plain;charset=UTF-8",
            "origin": "https://shop.example",
        },
        body=json.dumps(body, separators=(",", ":")).encode(),
    )


class _Counting(io.TextIOBase):
    """Counts what a function prints (its logs and metrics), keeping none of it."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)
