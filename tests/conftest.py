"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
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


@pytest.fixture
def dynamodb(aws_credentials: None) -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


IDENTITY_SECRET = "test-identity-secret"


@pytest.fixture
def table_names(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every table, created from the same specs as the CDK stack, and the secrets;
    env var -> table name."""
    from cdp.local.aws import create_secrets, create_tables

    names = create_tables(dynamodb, prefix="test")
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
