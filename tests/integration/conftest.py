from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cdp.access.keys import ApiKey, hash_key
from cdp.runtime.codec import decompress
from cdp.storage import clients
from cdp.storage.keys import KeyStore
from tests.factories import answer_json, basic_auth, http_event, stream_event, stream_record
from workbench.local.invocation import LambdaContext

WRITE_KEY = "wk_integration"
SECRET_KEY = "sk_integration"


@pytest.fixture(autouse=True)
def _restore_clock() -> Iterator[None]:
    """Tests move the process clock (`cdp.runtime.clock.advance`); each starts where it was."""
    from cdp.runtime import clock

    before = clock._offset
    yield
    clock._offset = before


@pytest.fixture
def keys(dynamodb: Any, table_names: dict[str, str]) -> None:
    store = KeyStore(table_names["KEYS_TABLE"], client=dynamodb)
    now = datetime.now(UTC).isoformat()
    store.put(ApiKey(hash_key(WRITE_KEY), "write", "website"), created_at=now)
    store.put(ApiKey(hash_key(SECRET_KEY), "secret", "operator"), created_at=now)
    store.put(ApiKey(hash_key("wk_disabled"), "write", "old-site", enabled=False), created_at=now)


@pytest.fixture
def collector(
    keys: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """The collector's Lambda handler, as deployed, on moto tables."""
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://shop.example,https://www.shop.example")
    from functions.collector import handler

    handler._app.cache_clear()
    clients.dynamodb.cache_clear()
    yield lambda event: handler.handler(event, LambdaContext())
    handler._app.cache_clear()
    clients.dynamodb.cache_clear()


def stored_events(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every stored message (a test may scan; the application never does)."""
    items = dynamodb.scan(TableName=table)["Items"]
    return [decompress(item["body"]["B"]) for item in items]


def quarantined(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return dynamodb.scan(TableName=table)["Items"]


@pytest.fixture
def profile_builder(
    table_names: dict[str, str], queues: dict[str, str]
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """The profile builder's Lambda handler, as deployed, on moto tables."""
    from functions.profile_builder import handler

    handler._dependencies.cache_clear()
    handler._queue.cache_clear()
    clients.dynamodb.cache_clear()
    yield lambda event: handler.handler(event, LambdaContext())
    handler._dependencies.cache_clear()
    handler._queue.cache_clear()
    clients.dynamodb.cache_clear()


@pytest.fixture
def profile_api(keys: None) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """The Profile API's Lambda handler, as deployed, on moto tables."""
    from functions.profile_api import handler

    handler._app.cache_clear()
    clients.dynamodb.cache_clear()
    yield lambda event: handler.handler(event, LambdaContext())
    handler._app.cache_clear()
    clients.dynamodb.cache_clear()


@pytest.fixture
def admin_api(
    keys: None, queues: dict[str, str]
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    from functions.admin_api import handler

    handler._app.cache_clear()
    clients.dynamodb.cache_clear()
    yield lambda event: handler.handler(event, LambdaContext())
    handler._app.cache_clear()
    clients.dynamodb.cache_clear()


@pytest.fixture
def admin_api_url(admin_api: Handler) -> Iterator[str]:
    """The admin API as `cdp dev` serves it, behind the local gateway (its routes from
    `infra.wiring`), for the command line to call."""
    import threading

    from infra.wiring import ADMIN_API
    from workbench.local.gateway import Functions, make_server

    server = make_server("127.0.0.1", 0, Functions((ADMIN_API,)), log=lambda _: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def bearer(key: str = SECRET_KEY) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def bus(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """An EventBridge bus (moto) with a rule copying every platform event to a queue;
    answers a function that drains that queue."""
    import boto3

    from workbench.local.aws import create_bus
    from workbench.local.bus import connect_tap

    events, sqs = boto3.client("events"), boto3.client("sqs")
    names = create_bus(events, prefix="test")
    for env_var, name in names.items():
        monkeypatch.setenv(env_var, name)
    tap = connect_tap(events, sqs, next(iter(names.values())), "test-tap")
    clients.events.cache_clear()

    def received() -> list[dict[str, Any]]:
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=tap, ReceiptHandle=message["ReceiptHandle"])

    return received


@pytest.fixture
def queues(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    import boto3

    from workbench.local.aws import create_queues

    urls, _ = create_queues(boto3.client("sqs"), prefix="test")
    for env_var, url in urls.items():
        monkeypatch.setenv(env_var, url)
    clients.sqs.cache_clear()
    return urls


@pytest.fixture
def publisher(
    table_names: dict[str, str], bus: Callable[[], list[dict[str, Any]]], queues: dict[str, str]
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    from functions.publisher import handler

    handler._dependencies.cache_clear()
    clients.dynamodb.cache_clear()
    yield lambda event: handler.handler(event, LambdaContext())
    handler._dependencies.cache_clear()


def _handler_fixture(module_name: str, cache: str) -> Any:
    """A fixture giving a deployed handler on moto tables, its caches cleared around it."""

    @pytest.fixture
    def fixture(
        keys: None, queues: dict[str, str], bus: Any
    ) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
        import importlib

        module = importlib.import_module(module_name)
        getattr(module, cache).cache_clear()
        clients.dynamodb.cache_clear()
        yield lambda event: module.handler(event, LambdaContext())
        getattr(module, cache).cache_clear()

    return fixture


forms_api = _handler_fixture("functions.forms_api.handler", "_app")
privacy_api = _handler_fixture("functions.privacy_api.handler", "_app")
erasure_sweep = _handler_fixture("functions.erasure_sweep.handler", "_dependencies")
webhooks = _handler_fixture("functions.webhooks.handler", "_app")


class TableStream:
    """Reads a table's DynamoDB stream (moto) and hands its new records over as Lambda does."""

    def __init__(self, table: str, start: str = "TRIM_HORIZON") -> None:
        """`start`: the shard iterator's type (`LATEST`: the records written from now on)."""
        import boto3
        from botocore.config import Config

        # moto answers Streams calls only without account-based endpoints
        self.streams = boto3.client(
            "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
        )
        arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.arn = arn
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=start
        )["ShardIterator"]

    def new_records(self) -> dict[str, Any]:
        from workbench.local.streams import lambda_record

        answer = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = answer["NextShardIterator"]
        return {"Records": [lambda_record(record, self.arn) for record in answer["Records"]]}


@pytest.fixture
def pipeline(
    table_names: dict[str, str],
    profile_builder: Callable[[dict[str, Any]], dict[str, Any]],
    publisher: Callable[[dict[str, Any]], dict[str, Any]],
) -> Callable[[], None]:
    """Runs the streams as Lambda would: stored events to the builder, profile changes to the
    publisher, until nothing is left."""
    events = TableStream(table_names["EVENTS_TABLE"])
    profiles = TableStream(table_names["PROFILES_TABLE"])

    def run() -> None:
        while True:
            batch = events.new_records()
            if batch["Records"]:
                assert profile_builder(batch) == {"batchItemFailures": []}
            changes = profiles.new_records()
            if changes["Records"]:
                assert publisher(changes) == {"batchItemFailures": []}
            if not batch["Records"] and not changes["Records"]:
                return

    return run


@pytest.fixture
def track(
    collector: Callable[[dict[str, Any]], dict[str, Any]],
    profile_builder: Callable[[dict[str, Any]], dict[str, Any]],
    dynamodb: Any,
    table_names: dict[str, str],
) -> Callable[..., None]:
    """Send messages through the collector (one batch), then hand the stored messages to the
    profile builder as one stream batch, in the order they were sent."""

    def send(*messages: dict[str, Any]) -> None:
        batch = [{"messageId": f"m-{uuid.uuid4().hex[:12]}", **m} for m in messages]
        answer = collector(
            http_event(path="/v1/batch", body={"batch": batch}, headers=basic_auth(WRITE_KEY))
        )
        assert answer_json(answer) == {"success": True}
        stored = {m["messageId"]: m for m in stored_events(dynamodb, table_names["EVENTS_TABLE"])}
        records = [stream_record(stored[m["messageId"]]) for m in batch]
        assert profile_builder(stream_event(*records)) == {"batchItemFailures": []}

    return send


SIGN_IN_URL = "https://cdp-test.auth.us-east-1.amazoncognito.com"


@pytest.fixture
def console(
    table_names: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """The console's function, its sign-in settings set."""
    from functions.console import handler

    monkeypatch.setenv("SIGN_IN_URL", SIGN_IN_URL)
    monkeypatch.setenv("CONSOLE_CLIENT_ID", "page-client")

    caches = (handler._app, clients.dynamodb)
    for cache in caches:
        cache.cache_clear()
    yield lambda event: handler.handler(event, LambdaContext())
    for cache in caches:
        cache.cache_clear()


class Throttling:
    """The moto client, except that the first `times` batch writes process nothing, as when
    DynamoDB throttles a partition (fault injected at the client layer)."""

    def __init__(self, client: Any, times: int) -> None:
        self.client = client
        self.remaining = times
        self.calls = 0

    def batch_write_item(self, **arguments: Any) -> dict[str, Any]:
        self.calls += 1
        if self.remaining > 0:
            self.remaining -= 1
            return {"UnprocessedItems": arguments["RequestItems"]}
        answer: dict[str, Any] = self.client.batch_write_item(**arguments)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


# -- the data lake's functions, on a local lake ------------------------------------------


Handler = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A local lake for the lake functions, their cached catalogs cleared around the test."""
    from functions.lake_profiles import handler as profiles
    from functions.lake_upkeep import handler as upkeep
    from functions.lake_writer import handler as writer

    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "lake"))
    caches = (
        writer._catalog,
        writer._suppressions,
        profiles._dependencies,
        upkeep._catalog,
        upkeep._settings,
    )
    for cache in caches:
        cache.cache_clear()
    yield tmp_path / "lake"
    for cache in caches:
        cache.cache_clear()


@pytest.fixture
def lake_writer(lake: Path, table_names: dict[str, str]) -> Handler:
    from functions.lake_writer import handler

    return lambda event: handler.handler(event, LambdaContext())


@pytest.fixture
def lake_upkeep(lake: Path, queues: dict[str, str]) -> Handler:
    from functions.lake_upkeep import handler

    return lambda event: handler.handler(event, LambdaContext())


@pytest.fixture
def lake_profiles(lake: Path, table_names: dict[str, str]) -> Handler:
    from functions.lake_profiles import handler

    return lambda event: handler.handler(event, LambdaContext())
