"""The whole HTTP surface in one process, on moto: every route of `infra.wiring` answered by its
deployed handler, routed the way `cdp dev`'s local API Gateway routes it, with keys of every
kind and state, a form, a segment, a generic webhook and one known person to aim at."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import importlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from cdp.access.keys import ApiKey, hash_key
from cdp.access.sources import NewSource, Sources
from cdp.intake.verification import sign
from cdp.storage import clients
from cdp.storage.config import ConfigStore
from cdp.storage.keys import KeyStore
from infra.wiring import FUNCTIONS, FunctionSpec
from tests.conftest import IDENTITY_SECRET, REGION
from tests.integration.conftest import TableStream, bus, queues  # noqa: F401 (fixtures)
from workbench.local.gateway import Functions
from workbench.local.invocation import http_api_event
from workbench.local.signin import LocalSignIn

ALLOWED_ORIGINS = ("https://shop.example", "https://www.shop.example")
SECRET_KEY = "sk_reliability_operator"
WEBHOOK_SECRET = "a-shared-secret-for-the-mailer"
PERSON = {"userId": "person-1", "email": "ada@example.com", "anonymousId": "anon-person-1"}
FORM = {
    "id": "household",
    "name": "About your household",
    "consent_purposes": ["marketing"],
    "fields": [
        {"trait": "children", "label": "How many children?", "type": "number", "purpose": "offers"},
        {"trait": "home", "label": "Own or rent?", "type": "select", "options": ["own", "rent"],
         "purpose": "mortgage offers"},
    ],
}  # fmt: skip
SEGMENT = {"id": "parents", "name": "Parents", "condition": {"trait": "children", "gte": 1}}
# Things the routes that delete may delete, so that every other route keeps its target.
THROWAWAY_PERSON = {"userId": "person-2", "anonymousId": "anon-person-2"}
# ... and what the console's copies of those routes delete.
THROWAWAY_PERSON_2 = {"userId": "person-4", "anonymousId": "anon-person-4"}
# Someone whose anonymous id an unmerge may split out.
UNMERGED_PERSON = {"userId": "person-3", "anonymousId": "anon-person-3"}
SURVEY = {**FORM, "id": "survey", "fields": [FORM["fields"][0]]}
OLD_SEGMENT = {"id": "old-segment", "name": "Old", "condition": {"trait": "home", "eq": "rent"}}
SURVEY_2 = {**SURVEY, "id": "survey-2"}
OLD_SEGMENT_2 = {**OLD_SEGMENT, "id": "old-segment-2"}
# A configured computed trait: storing it starts its backfill (the backfill routes read it).
VIEWS = {"id": "products_viewed", "type": "count", "event": "Product Viewed"}
DESTINATION = {"id": "crm", "name": "CRM", "connector": "webhook", "purpose": "marketing",
               "settings": {"url": "https://hooks.example.com/cdp"},
               "audiences": {"parents": "Parents"}, "traits": {"children": "kids"}}  # fmt: skip
OLD_DESTINATION = {**DESTINATION, "id": "old-crm"}
OLD_DESTINATION_2 = {**DESTINATION, "id": "old-crm-2"}

HTTP_FUNCTIONS: tuple[FunctionSpec, ...] = tuple(spec for spec in FUNCTIONS if spec.routes)
INTERNAL_DETAIL = re.compile(
    r"Traceback|File \"|\.py\b|site-packages|botocore|boto3|\bmoto\b|lambda_powertools|pydantic"
    r"|errors\.pydantic\.dev|\b[A-Z][A-Za-z]*(Error|Exception)\b|ValidationException|arn:aws"
    r"|/work/|/home/|/usr/lib",
    re.IGNORECASE,
)
"""What an answer must never show: stack traces, file paths, exception classes, AWS SDK text."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    request_id: str = ""
    # False: API Gateway answered itself (no route matched: 404; the JWT authorizer refused a
    # console route's token: 401), in its own format
    routed: bool = True

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Keys:
    """One credential of every kind and state."""

    write: str
    secret: str
    disabled: str  # of a source that was switched off
    expired: str  # replaced by a rotation whose overlap is over
    expiring: str  # replaced by a rotation, still in its overlap: keeps working
    wrong: str = "wk_" + "x" * 43  # well formed, never issued


@dataclass
class Stack:
    functions: Functions
    dynamodb: Any
    tables: dict[str, str]
    keys: Keys
    pipeline: Pipeline
    signin: LocalSignIn  # Cognito (moto) and API Gateway's JWT authorizer, as cdp dev plays them
    console_token: str  # an admin's ID token
    # How many DynamoDB operations that may change a table moto has run, by table name
    # (`count_writes`); without it, every fingerprint reads every item again.
    writes: Callable[[str], int] | None = None
    # Whether the tasks a request leaves in the queues are thrown away (`_empty_queues`): the
    # hostile-input, fuzz and access tests never run them; the invariants' platform does.
    empty_queues: bool = False
    # table name -> its writes and its items' digest then
    _digests: dict[str, tuple[int, str]] = field(default_factory=dict, init=False, repr=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | str | None = None,
        base64_body: bool | None = None,
    ) -> Answer:
        """One request through the local API Gateway's routing and event shape. `body` given as
        a dict or list is sent as JSON; `base64_body` forces how the event carries it."""
        all_headers = {"host": "api.shop.example", **(headers or {})}
        if isinstance(body, dict | list):
            data = json.dumps(body).encode()
            all_headers.setdefault("content-type", "application/json")
        elif isinstance(body, str):
            data = body.encode("utf-8", errors="surrogatepass")
        else:
            data = body or b""
        found = self.functions.match(method, path)
        if found is None:
            return Answer(404, {}, json.dumps({"message": "Not Found"}).encode(), routed=False)
        target, parameters = found
        # as the local gateway does: the authorizer looks only at the console's routes
        claims = self.signin.claims(all_headers.get("authorization")) if target.signed_in else None
        if target.signed_in and claims is None:  # the authorizer's answer; no function runs
            refusal = json.dumps({"message": "Unauthorized"}).encode()
            return Answer(401, {}, refusal, routed=False)
        route = f"{target.method} {target.template}"
        event = http_api_event(
            method=method,
            raw_path=path,
            query=query
            if isinstance(query, str)
            else urlencode(query or {}, encoding="utf-8", errors="surrogatepass"),
            headers=list(all_headers.items()),
            body=data,
            source_ip="192.0.2.1",
            route_key=route,
            path_parameters=parameters,
            protocol="http",
            base64_body=base64_body if data else None,
            claims=claims,
        )
        request_id = event["requestContext"]["requestId"]
        answer = self.functions.invoke(target.function, event)
        if self.empty_queues:
            _empty_queues()
        content = answer.get("body") or ""
        raw = base64.b64decode(content) if answer.get("isBase64Encoded") else content.encode()
        answer_headers = {k.lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            answer_headers[name.lower()] = ",".join(str(v) for v in values)
        return Answer(int(answer["statusCode"]), answer_headers, raw, request_id)

    def _moto_tables(self) -> dict[str, Any]:
        # moto's own tables: DescribeTable through boto3 costs a millisecond a call, and these
        # checks run after every one of thousands of requests.
        from moto.backends import get_backend
        from moto.core.models import DEFAULT_ACCOUNT_ID

        tables: dict[str, Any] = get_backend("dynamodb")[DEFAULT_ACCOUNT_ID][REGION].tables
        return tables

    def counts(self) -> dict[str, int]:
        """Items per table, by env var."""
        tables = self._moto_tables()
        return {env: len(tables[name]) for env, name in self.tables.items()}

    def fingerprint(self) -> str:
        """A digest of every item of the small tables (definitions, keys, profiles, identities,
        members, suppressions): any change to them changes it. A table's items are digested
        again only after moto ran an operation that may write to it (`writes`): digesting
        hundreds of keys before each of thousands of requests was half of the hostile-input
        suite's time, and most writes (definitions and their version) are to one table."""
        tables = self._moto_tables()
        digest = hashlib.sha256()
        for env in ("CONFIG_TABLE", "KEYS_TABLE", "PROFILES_TABLE", "IDENTITIES_TABLE",
                    "MEMBERS_TABLE", "SUPPRESSIONS_TABLE"):  # fmt: skip
            name = self.tables[env]
            digest.update(self._digest(name, tables[name]).encode())
        return digest.hexdigest()

    def _digest(self, name: str, table: Any) -> str:
        writes = self.writes(name) if self.writes else None
        kept = self._digests.get(name)
        if writes is not None and kept is not None and kept[0] == writes:
            return kept[1]
        digest = hashlib.sha256()
        for item in sorted(json.dumps(i.to_json(), sort_keys=True, default=repr)
                           for i in _unsorted_items(table)):  # fmt: skip
            digest.update(item.encode())
        if writes is not None:
            self._digests[name] = (writes, digest.hexdigest())
        return digest.hexdigest()

    def quarantined(self, request_id: str) -> list[dict[str, Any]]:
        """The quarantine entries a request left (read from moto: they hold large payloads)."""
        table = self._moto_tables()[self.tables["QUARANTINE_TABLE"]]
        return [
            item.to_json()["Attributes"]
            for item in _unsorted_items(table)
            if item.attrs["request_id"].value == request_id
        ]

    def items(self, env: str) -> list[dict[str, Any]]:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.tables[env])
        return [item for page in pages for item in page["Items"]]

    def webhook_headers(self, body: bytes) -> dict[str, str]:
        digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return {"x-mailer-signature": f"sha256={digest}"}


# DynamoDB operations that only read. Any other (a write, a batch, a transaction, a PartiQL
# statement, a change to a table) counts as one that may write.
READ_ONLY = frozenset({
    "GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan", "DescribeTable",
    "ListTables", "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource",
})  # fmt: skip


def count_writes(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], int]:
    """Counts of the DynamoDB operations that may write which moto runs from now on, from any
    client in this process (counted as moto dispatches them, before they run), by table name.
    An operation that does not name one table by its name (a batch, a transaction, a PartiQL
    statement, a table's ARN) counts for every table."""
    from moto.dynamodb.responses import DynamoHandler

    dispatch = DynamoHandler.call_action
    by_table: dict[str, int] = {}
    everywhere = [0]

    def call_action(handler: DynamoHandler) -> Any:
        if handler._get_action() not in READ_ONLY:
            name = getattr(handler, "params", {}).get("TableName")
            if isinstance(name, str) and ":" not in name:
                by_table[name] = by_table.get(name, 0) + 1
            else:
                everywhere[0] += 1
        return dispatch(handler)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)
    return lambda table: by_table.get(table, 0) + everywhere[0]


def _unsorted_items(table: Any) -> Iterator[Any]:
    """A moto table's items in no order. Its `all_items` sorts them by key on every call, which
    costs more than the request under test once the quarantine holds thousands of items."""
    for entry in table.items.values():
        yield from entry.values() if table.range_key_attr else (entry,)


class Pipeline:
    """Feeds the tables' streams to the profile builder and the publisher as Lambda would."""

    def __init__(self, tables: dict[str, str], start: str = "TRIM_HORIZON") -> None:
        """`start`: `LATEST` for records written from now on only."""
        from functions.profile_builder import handler as builder
        from functions.publisher import handler as publisher

        builder._dependencies.cache_clear()
        publisher._dependencies.cache_clear()
        self.builder, self.publisher = builder.handler, publisher.handler
        self.events = TableStream(tables["EVENTS_TABLE"], start)
        self.profiles = TableStream(tables["PROFILES_TABLE"], start)

    def run(self) -> tuple[int, int]:
        """Until nothing is left; answers how many records each function got. A failed record
        (a poison message that was accepted) fails the test."""
        from workbench.local.invocation import LambdaContext

        built = published = 0
        while True:
            batch = self.events.new_records()
            if batch["Records"]:
                built += len(batch["Records"])
                assert self.builder(batch, LambdaContext()) == {"batchItemFailures": []}
            changes = self.profiles.new_records()
            if changes["Records"]:
                published += len(changes["Records"])
                assert self.publisher(changes, LambdaContext()) == {"batchItemFailures": []}
            if not batch["Records"] and not changes["Records"]:
                return built, published


def basic(key: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def signature_of(user_id: str) -> str:
    return sign(user_id, IDENTITY_SECRET)


def _clear_caches() -> None:
    for spec in HTTP_FUNCTIONS:
        module = importlib.import_module(spec.handler.rpartition(".")[0])
        module._app.cache_clear()
    for factory in (clients.dynamodb, clients.sqs, clients.events):
        factory.cache_clear()


SIGN_IN_URL = "https://sign-in.shop.example"


def console_sign_in() -> tuple[LocalSignIn, str]:
    """Cognito in moto with `cdp dev`'s accounts, and an admin's token."""
    signin = LocalSignIn(boto3.client("cognito-idp", region_name=REGION))
    return signin, _console_token(signin, "admin")


def _console_token(signin: LocalSignIn, role: str) -> str:
    account = next(account for account in signin.accounts if account.role == role)
    answer = signin.cognito.admin_initiate_auth(
        UserPoolId=signin.pool_id,
        ClientId=signin.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": account.email, "PASSWORD": account.password},
    )
    token: str = answer["AuthenticationResult"]["IdToken"]
    return token


def _issue_keys(dynamodb: Any, tables: dict[str, str]) -> Keys:
    """Keys made the way operators make them: sources with write keys, a rotation, a source
    switched off, and a secret key written straight into the keys table."""
    keys = KeyStore(tables["KEYS_TABLE"], client=dynamodb)
    sources = Sources(config=ConfigStore(tables["CONFIG_TABLE"], client=dynamodb), keys=keys)
    now = datetime.now(UTC)
    _, write = sources.create(NewSource(name="shop-web", kind="website"), now)
    _, expired = sources.create(NewSource(name="old-app", kind="app"), now - timedelta(days=3))
    sources.rotate("old-app", timedelta(hours=24), now - timedelta(days=2))  # over a day ago
    _, expiring = sources.create(NewSource(name="new-app", kind="app"), now)
    sources.rotate("new-app", timedelta(hours=24), now)
    _, disabled = sources.create(NewSource(name="retired", kind="website"), now)
    sources.disable("retired", now)
    for name in ("mailer", "newsletter", "newsletter-2", "spare", "spare-2", "watched"):
        sources.create(NewSource(name=name, kind="email"), now)
    keys.put(ApiKey(hash_key(SECRET_KEY), "secret", "operator"), created_at=now.isoformat())
    return Keys(
        write=write, secret=SECRET_KEY, disabled=disabled, expired=expired, expiring=expiring
    )


@pytest.fixture
def partition_queries() -> Iterator[None]:
    """Queries read their partition, as in `cdp dev` (answers verified equal to moto's own by
    tests/unit/test_local_partitions.py), instead of moto sorting the whole table each time."""
    from workbench.local import partitions

    restore = partitions.install()
    yield
    restore()


# moto's state once the stack is built (tables and Cognito), with its keys and sign-in, made by
# the first test of each process that asks for the stack; every other test starts from a copy of
# it. Building it through the API (sign-in, 13 definitions, a person through the pipeline) was
# nine tenths of each test's setup.
_BUILT: dict[str, Any] = {}


def _empty_queues() -> None:
    """The tasks a request leaves in a queue (a destination's resync, a backfill) are no
    concern of these tests, and moto counts every message of a queue on each send: 472
    resyncs left in one were 20 s of the admin API's named hostile cases."""
    from moto.sqs.models import sqs_backends

    from workbench.local.invocation import ACCOUNT_ID

    backend = sqs_backends[ACCOUNT_ID][REGION]
    for name, queue in backend.queues.items():
        if queue.approximate_number_of_messages:
            backend.purge_queue(name)


def _moto_backends() -> tuple[Any, Any]:
    from moto.cognitoidp.models import cognitoidp_backends
    from moto.dynamodb.models import dynamodb_backends

    from workbench.local.invocation import ACCOUNT_ID

    return dynamodb_backends[ACCOUNT_ID][REGION], cognitoidp_backends[ACCOUNT_ID][REGION]


def _keep_built(stack: Stack) -> None:
    dynamodb, cognito = _moto_backends()
    _BUILT.update(
        tables=copy.deepcopy(dynamodb.tables),
        pools=copy.deepcopy(cognito.user_pools),
        signin=stack.signin,
        keys=stack.keys,
    )


def _restore_built() -> None:
    dynamodb, cognito = _moto_backends()
    dynamodb.tables.clear()
    dynamodb.tables.update(copy.deepcopy(_BUILT["tables"]))
    cognito.user_pools.update(copy.deepcopy(_BUILT["pools"]))


@pytest.fixture
def stack(
    partition_queries: None,
    table_names: dict[str, str],
    queues: dict[str, str],  # noqa: F811
    bus: Any,  # noqa: F811
    dynamodb: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    """Every HTTP function of the stack on moto, with a form, a segment, a generic webhook and
    one known person (profile built) in place."""
    built = bool(_BUILT)
    if built:
        _restore_built()
        signin, keys = _BUILT["signin"], _BUILT["keys"]
    else:
        signin = LocalSignIn(boto3.client("cognito-idp", region_name=REGION))
    monkeypatch.setenv("ALLOWED_ORIGINS", ",".join(ALLOWED_ORIGINS))
    # the queues are emptied after each request (`_empty_queues`), more often than once a minute
    monkeypatch.setenv("MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR", "false")
    monkeypatch.setenv("SIGN_IN_URL", SIGN_IN_URL)
    monkeypatch.setenv("CONSOLE_CLIENT_ID", signin.client_id)
    _clear_caches()
    stack = Stack(
        functions=Functions(HTTP_FUNCTIONS),
        dynamodb=dynamodb,
        tables=table_names,
        keys=keys if built else _issue_keys(dynamodb, table_names),
        # what the stack's building wrote was handed to the pipeline then
        pipeline=Pipeline(table_names, "LATEST" if built else "TRIM_HORIZON"),
        signin=signin,
        console_token=_console_token(signin, "admin"),  # a fresh one: they expire
        writes=count_writes(monkeypatch),
        empty_queues=True,
    )
    if not built:
        _build(stack)
        _keep_built(stack)
    yield stack
    _clear_caches()


def _build(stack: Stack) -> None:
    """The definitions (through the admin API) and the people (through the collector and the
    pipeline) every test finds in place."""
    admin = bearer(stack.keys.secret)
    webhook = {"format": "generic", "secret": WEBHOOK_SECRET,
               "signature_header": "X-Mailer-Signature"}  # fmt: skip
    for path, definition in (
        (f"/v1/forms/{FORM['id']}", FORM),
        (f"/v1/forms/{SURVEY['id']}", SURVEY),
        (f"/v1/segments/{SEGMENT['id']}", SEGMENT),
        (f"/v1/segments/{OLD_SEGMENT['id']}", OLD_SEGMENT),
        (f"/v1/forms/{SURVEY_2['id']}", SURVEY_2),
        (f"/v1/segments/{OLD_SEGMENT_2['id']}", OLD_SEGMENT_2),
        (f"/v1/computed-traits/{VIEWS['id']}", VIEWS),  # its backfill starts
        ("/v1/webhooks/mailer", {"source": "mailer", **webhook}),
        ("/v1/webhooks/newsletter", {"source": "newsletter", **webhook}),
        ("/v1/webhooks/newsletter-2", {"source": "newsletter-2", **webhook}),
        *(
            (f"/v1/destinations/{d['id']}", d)
            for d in (DESTINATION, OLD_DESTINATION, OLD_DESTINATION_2)
        ),
    ):
        answer = stack.request("PUT", path, body=definition, headers=admin)
        assert answer.status == 200, answer.body
    batch = [
        {"type": "identify", **{k: PERSON[k] for k in ("userId", "anonymousId")},
         "traits": {"email": PERSON["email"], "children": 2}},
        {"type": "identify", **THROWAWAY_PERSON, "traits": {"children": 1}},
        {"type": "identify", **THROWAWAY_PERSON_2, "traits": {"home": "own"}},
        {"type": "identify", **UNMERGED_PERSON, "traits": {"children": 3}},
    ]  # fmt: skip
    answer = stack.request(
        "POST", "/v1/batch", body={"batch": batch}, headers=basic(stack.keys.write)
    )
    assert answer.status == 200, answer.body
    stack.pipeline.run()
