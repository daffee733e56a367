"""The whole platform on moto, fresh for each example of a state machine: every function of
`infra.wiring` in process, the tables' streams fed to the builder and the publisher as Lambda
feeds them, the task queues (backfills, erasure sweeps) drained into their workers, the
scheduler on demand, the import bucket, two destinations behind the stack's own EventBridge
rules, read from the synthesized template, and the data lake (on disk) with its writers and
its upkeep, fed when a step asks for it."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3

from cdp.profiles.identity import comparable
from cdp.storage import clients
from infra.config import DeploymentConfig
from infra.wiring import (
    DESTINATION_SECRETS_ENV,
    FUNCTIONS,
    IMPORT_BUCKET_ENV,
    LAKE_WAREHOUSE_ENV,
    SECRETS,
    FunctionSpec,
    shared_environment,
)
from tests.contracts.webhook import WebhookContract
from tests.reliability.conftest import (
    SIGN_IN_URL,
    Pipeline,
    Stack,
    TableStream,
    _issue_keys,
    basic,
    bearer,
    console_sign_in,
)
from workbench.local.aws import create_bus, create_queues, create_tables
from workbench.local.gateway import Functions

DESTINATIONS = [
    {"name": "mailer", "type": "sqs", "purpose": "marketing"},
    {"name": "warehouse", "type": "sqs", "purpose": "analytics"},
]
SPECS = {spec.name: spec for spec in FUNCTIONS}


def destination_rules() -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Each destination's purpose and rule patterns, as the stack builds its rules
    (`Destination.rule_patterns`; tests/infra checks the synthesized template against it)."""
    config = DeploymentConfig.model_validate({"destinations": DESTINATIONS})
    return {
        destination.name: (destination.purpose, list(destination.rule_patterns().values()))
        for destination in config.destinations
    }


TOOL_SECRET = "invariants-tool-secret"  # the destination's, shared with its receiver


@lru_cache(maxsize=1)
def receiver() -> WebhookContract:
    """A webhook receiver that runs as long as the process does (a thread)."""
    contract = WebhookContract(TOOL_SECRET)
    _running.append(contract.running())  # held: a context dropped would stop the server
    _running[-1].__enter__()
    return contract


_running: list[Any] = []


def clear_caches() -> None:
    """Forget every warm function's state, as new Lambda instances would."""
    import importlib

    for spec in FUNCTIONS:
        module = importlib.import_module(spec.handler.rpartition(".")[0])
        caches = ("_app", "_dependencies", "_queue", "_resync_dependencies", "_catalog")
        for cache in (*caches, "_settings", "_suppressions"):
            if hasattr(module, cache):
                getattr(module, cache).cache_clear()
    for factory in (clients.dynamodb, clients.sqs, clients.events, clients.s3):
        factory.cache_clear()


@dataclass
class Platform:
    stack: Stack
    tables: dict[str, str]
    queues: dict[str, str]
    bucket: str
    destinations: dict[str, tuple[str, str]]  # name -> (purpose, queue url)
    lake: Path
    delivered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def fresh(cls, dynamodb: Any) -> Platform:
        prefix = f"inv{uuid.uuid4().hex[:8]}"
        sqs, events, s3 = boto3.client("sqs"), boto3.client("events"), boto3.client("s3")
        tables = create_tables(dynamodb, prefix=prefix)
        queues, _ = create_queues(sqs, prefix=prefix)
        bus = create_bus(events, prefix=prefix)
        bucket = f"{prefix}-imports"
        s3.create_bucket(Bucket=bucket)
        secrets = {spec.env_var: os.environ[spec.env_var] for spec in SECRETS}  # table_names
        secrets[DESTINATION_SECRETS_ENV] = os.environ[DESTINATION_SECRETS_ENV]
        lake = Path(tempfile.gettempdir()) / f"{prefix}-lake"
        resources = {
            **tables, **queues, **bus, **secrets,
            IMPORT_BUCKET_ENV: bucket, LAKE_WAREHOUSE_ENV: str(lake),
        }  # fmt: skip
        os.environ.update(shared_environment(FUNCTIONS, resources, {}))
        destinations = {}
        for name, (purpose, patterns) in destination_rules().items():
            url = sqs.create_queue(QueueName=f"{prefix}-{name}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            for number, pattern in enumerate(patterns):
                rule = f"{prefix}-{name}-{number}"
                bus_name = bus["EVENT_BUS_NAME"]
                events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps(pattern))
                events.put_targets(
                    Rule=rule,
                    EventBusName=bus_name,
                    Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}],
                )
            destinations[name] = (purpose, url)
        # The tool a destination sends to: the signed webhook's receiver, one per process.
        os.environ["CONNECTOR_ENDPOINTS"] = json.dumps({"webhook": receiver().url})
        receiver().reset()
        signin, console_token = console_sign_in()
        os.environ.update({"SIGN_IN_URL": SIGN_IN_URL, "CONSOLE_CLIENT_ID": signin.client_id})
        clear_caches()
        stack = Stack(
            functions=Functions(FUNCTIONS),
            dynamodb=dynamodb,
            tables=tables,
            keys=_issue_keys(dynamodb, tables),
            pipeline=Pipeline(tables),
            signin=signin,
            console_token=console_token,
        )
        return cls(stack, tables, queues, bucket, destinations, lake)

    # -- requests ------------------------------------------------------------------------

    def collect(self, path: str, body: Any) -> Any:
        return self.stack.request("POST", path, body=body, headers=basic(self.stack.keys.write))

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return self.stack.request(method, path, body=body, headers=bearer(self.stack.keys.secret))

    def browser(self, method: str, path: str, body: Any = None, query: Any = None) -> Any:
        headers = basic(self.stack.keys.write)
        return self.stack.request(method, path, body=body, query=query, headers=headers)

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        return self.stack.functions.invoke(SPECS[function], event)

    # -- what Lambda and AWS do between requests -------------------------------------------

    def settle(self) -> None:
        """Run everything that follows a request until nothing is left: the streams, the
        backfill and erasure-sweep queues; and collect what the destinations received."""
        while True:
            built, published = self.stack.pipeline.run()
            tasks = self._drain_queue("BACKFILL_QUEUE_URL", SPECS["segment_backfill"])
            tasks += self._drain_queue("ERASURE_QUEUE_URL", SPECS["erasure_sweep"])
            tasks += self._drain_queue("DELIVERIES_QUEUE_URL", SPECS["deliverer"])
            if not (built or published or tasks):
                break
        for name, (_, url) in self.destinations.items():
            self.delivered.setdefault(name, []).extend(_drain(self.sqs, url))

    def feed_lake(self) -> None:
        """Run the lake's functions on what is new, as their own Lambda triggers would: the
        events and profiles streams (each the second reader of its stream) and the erasures
        the sweeps sent. Only when a step asks: a commit per step would slow every example."""
        while True:
            events, profiles = self._lake_streams
            batch, changes = events.new_records(), profiles.new_records()
            if batch["Records"]:
                assert self.invoke("lake_writer", batch) == {"batchItemFailures": []}
            if changes["Records"]:
                assert self.invoke("lake_profiles", changes) == {"batchItemFailures": []}
            erasures = self._drain_queue("LAKE_ERASURES_QUEUE_URL", SPECS["lake_upkeep"])
            if not (batch["Records"] or changes["Records"] or erasures):
                return

    @cached_property
    def _lake_streams(self) -> tuple[TableStream, TableStream]:
        return TableStream(self.tables["EVENTS_TABLE"]), TableStream(self.tables["PROFILES_TABLE"])

    def run_scheduler(self) -> dict[str, Any]:
        answer = self.invoke("scheduler", {"source": "aws.scheduler", "detail": {}})
        self.settle()
        return answer

    def import_rows(self, name: str, rows: list[dict[str, str]], mapping: dict[str, Any]) -> None:
        """Drop a CSV into the import bucket and deliver its notification twice (S3 delivers
        at least once)."""
        s3 = boto3.client("s3")
        out = io.StringIO()
        writer = csv.DictWriter(out, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        key = f"imports/crm/{name}.csv"
        s3.put_object(Bucket=self.bucket, Key=f"{key}.mapping.json", Body=json.dumps(mapping))
        s3.put_object(Bucket=self.bucket, Key=key, Body=out.getvalue().encode())
        record = {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": self.bucket}, "object": {"key": quote_plus(key)}},
        }
        for _ in range(2):
            self.invoke("importer", {"Records": [record]})

    @cached_property
    def sqs(self) -> Any:
        """One client for the queues drained after every step (a new one costs 2 ms)."""
        return boto3.client("sqs")

    def _drain_queue(self, env: str, spec: FunctionSpec) -> int:
        sqs = self.sqs
        url = self.queues[env]
        handled = 0
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages"):
            records = [
                {"messageId": m["MessageId"], "body": m["Body"],
                 "receiptHandle": m["ReceiptHandle"], "eventSource": "aws:sqs",
                 "attributes": m.get("Attributes", {}), "messageAttributes": {}}
                for m in messages
            ]  # fmt: skip
            assert self.stack.functions.invoke(spec, {"Records": records}) == {
                "batchItemFailures": []
            }
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            handled += len(messages)
        return handled

    # -- looking inside ------------------------------------------------------------------

    def items(self, env: str) -> list[dict[str, Any]]:
        return self.stack.items(env)

    def everything(self) -> str:
        """Every item of every table of this platform, readable and in the form erasure
        compares identifiers in."""
        from cdp.runtime.codec import decompress
        from cdp.storage.profiles import decode_state

        text = []
        for env in self.tables:
            for item in self.items(env):
                readable = {
                    key: (decode_state if key == "state" else decompress)(value["B"])
                    if key in ("body", "state")
                    else value
                    for key, value in item.items()
                }
                text.append(json.dumps(readable, ensure_ascii=False, default=_bytes))
        return comparable("\n".join(text))

    def lake_files(self) -> str:
        """Every row of every Parquet file under the lake (data and deletes, live or not), in
        the form erasure compares identifiers in."""
        import pyarrow.parquet as pq

        files = sorted(self.lake.rglob("*.parquet"))
        return comparable("\n".join(str(pq.read_table(path).to_pylist()) for path in files))


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _bytes(value: Any) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)
