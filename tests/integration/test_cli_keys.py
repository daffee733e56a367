"""`cdp keys create-secret`: the first secret key of a deployed stack, made with AWS credentials
(CloudFormation and DynamoDB on moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cdp.access.keys import hash_key
from cdp.storage.keys import KeyStore
from workbench.cli import main

TEMPLATE = {
    "Resources": {
        "StorageKeys1A2B3C4D": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "cdp-prod-keys",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "key_hash", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "key_hash", "KeyType": "HASH"}],
            },
        }
    }
}


def test_the_key_is_printed_once_and_only_its_hash_is_stored(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("cloudformation").create_stack(
        StackName="Cdp-prod", TemplateBody=json.dumps(TEMPLATE)
    )

    assert main(["keys", "create-secret", "--stack", "Cdp-prod", "--label", "ops"]) == 0

    printed = capsys.readouterr()
    key = printed.out.strip()
    assert key.startswith("sk_")
    assert "shown this once" in printed.err
    found = KeyStore("cdp-prod-keys", client=dynamodb).find(hash_key(key))
    assert found is not None
    assert (found.kind, found.source, found.enabled) == ("secret", "ops", True)
    assert key not in str(dynamodb.scan(TableName="cdp-prod-keys"))


def test_a_stack_that_does_not_exist_is_a_clear_error(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create-secret", "--stack", "Cdp-nowhere"]) == 1

    assert capsys.readouterr().err.startswith("cdp: cannot read stack Cdp-nowhere")
