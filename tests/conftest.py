"""Fixtures shared by every test tier."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

import boto3
import botocore
import botocore.loaders
import botocore.session
import pytest

# Set before any handler module is imported: Powertools reads these when it is created.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CDP")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "true")

REGION = "us-east-1"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, so that nothing can ever reach a real AWS account."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@functools.cache
def _aws_models() -> botocore.loaders.Loader:
    """AWS's API descriptions and endpoint rules, read from disk once per process."""
    return botocore.loaders.create_loader()


def _fresh_session() -> boto3.Session:
    """A new boto3 session, as moto wants for every test (credentials and region read again),
    sharing the API descriptions: reading them again costs 0.15 s a test."""
    core = botocore.session.get_session()
    models = _aws_models()
    core.register_component("data_loader", models)
    session = boto3.Session(botocore_session=core)
    # boto3 adds its own folder to the search path of every session it is given
    models.search_paths[:] = dict.fromkeys(models.search_paths)
    return session


def leave_unsigned(events: Any) -> None:
    """Requests through the clients made from now on by the session whose event emitter is
    `events` (boto3's `session.events`, or a botocore session) go unsigned (botocore's
    `choose-signer` event): moto in this process (`mock_aws`) checks no signature, and signing
    each request (SigV4) took a quarter of a DynamoDB call's time. Not for `cdp dev`: moto's
    server tells the services apart by the signature's scope."""
    events.register("choose-signer", lambda **_: botocore.UNSIGNED, unique_id="tests-unsigned")


@pytest.fixture
def dynamodb(aws_credentials: None) -> Iterator[Any]:
    from moto import mock_aws

    from cdp.storage import clients
    from workbench.local import answers

    # moto writes item answers with `json`, as in `cdp dev` (the same bytes: test_local_answers)
    restore = answers.install()
    with mock_aws():
        boto3.DEFAULT_SESSION = _fresh_session()  # mock_aws puts the one before back
        # moto checks no signature: requests go unsigned (boto3's clients and the handlers')
        for events in (boto3.DEFAULT_SESSION.events, clients.session()):
            leave_unsigned(events)
        yield boto3.client("dynamodb", region_name=REGION)
    restore()


IDENTITY_SECRET = "test-identity-secret"

# moto's tables as `create_tables` made them through its API, empty: made once per process and
# copied into each test's fresh moto (its 19 calls were a fifth of an integration test's time;
# a copy describes the same: tests/unit/test_table_copies.py)
_EMPTY_TABLES: dict[str, Any] = {}


def create_tables_once(dynamodb: Any) -> dict[str, str]:
    """Every table, empty, in the current moto; env var -> table name."""
    import copy

    from moto.dynamodb.models import dynamodb_backends

    from workbench.local.aws import create_tables
    from workbench.local.invocation import ACCOUNT_ID

    backend = dynamodb_backends[ACCOUNT_ID][REGION]
    if not _EMPTY_TABLES:
        _EMPTY_TABLES["names"] = create_tables(dynamodb, prefix="test")
        _EMPTY_TABLES["tables"] = copy.deepcopy(backend.tables)
    else:
        backend.tables.update(copy.deepcopy(_EMPTY_TABLES["tables"]))
    names: dict[str, str] = dict(_EMPTY_TABLES["names"])
    return names


@pytest.fixture
def table_names(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every table, created from the same specs as the CDK stack, and the secrets;
    env var -> table name."""
    from workbench.local.aws import create_secrets

    names = create_tables_once(dynamodb)
    # The same values in every test: Powertools caches secrets for the whole process.
    secret_names = create_secrets(
        boto3.client("secretsmanager", region_name=REGION),
        prefix="test",
        identity_secret=IDENTITY_SECRET,
    )
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=secret_names["SUPPRESSION_PEPPER_NAME"], SecretString="test-pepper"
    )
    for env_var, name in {**names, **secret_names}.items():
        monkeypatch.setenv(env_var, name)
    return names


# Under pytest-xdist, as `make test` runs it (`--dist loadgroup`): a worker takes the next unit
# of work in collection order when it is free. A unit is one test, or a whole module whose tests
# share a fixture wider than a test (a `cdp dev`, a synthesized template), set up once. The slow
# tiers come first, so that no worker is left running a long unit alone at the end.
SLOW_TIERS_FIRST = ("e2e", "invariants", "reliability", "infra", "integration", "unit")


def _shares_a_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture of ours set up once for many tests."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    # (`baseid` is empty for the fixtures of pytest and its plugins, such as tmp_path_factory)
    return any(defs and defs[-1].scope != "function" and defs[-1].baseid for defs in definitions)


@pytest.hookimpl(tryfirst=True)  # before xdist names each test's group from its mark
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # one process: the order as written

    def tier(item: pytest.Item) -> int:
        name = item.path.parent.name  # tests/<tier>/test_….py
        return SLOW_TIERS_FIRST.index(name) if name in SLOW_TIERS_FIRST else len(SLOW_TIERS_FIRST)

    items.sort(key=tier)  # stable: a module's tests stay together and in order
    shared = {item.path for item in items if _shares_a_fixture(item)}
    for item in items:
        if item.path in shared:
            item.add_marker(pytest.mark.xdist_group(str(item.path.relative_to(config.rootpath))))
