"""A local stand-in for the AWS account: moto's server on loopback, with the same tables the
CDK stack defines (built from `cdp.runtime.tables`)."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from cdp.runtime import tables

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

REGION = "us-east-1"
# moto accepts any credentials; these make sure nothing ever reaches a real account.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "cdp-dev", "AWS_SECRET_ACCESS_KEY": "cdp-dev"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def table_name(spec: tables.TableSpec, prefix: str = "cdp-dev") -> str:
    return f"{prefix}-{spec.logical_name.lower()}"


@dataclass
class LocalAws:
    """moto's server, running in this process on a loopback port."""

    endpoint: str
    server: ThreadedMotoServer

    @classmethod
    def start(cls, host: str = "127.0.0.1", port: int = 0) -> LocalAws:
        from moto import backends
        from moto.server import ThreadedMotoServer  # only the local runtime needs moto

        # moto's server lists its own package directory on every request to find the service
        # (7% of `cdp dev`'s samples in a profile of an import); the installed package is fixed
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        port = port or free_port(host)
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        return cls(endpoint=f"http://{host}:{port}", server=server)

    def stop(self) -> None:
        self.server.stop()

    def environment(self) -> dict[str, str]:
        """What makes boto3 in this process (and in the handlers) talk to moto."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **CREDENTIALS,
        }

    def client(self, service: str) -> Any:
        return client_for(self.endpoint, service)


def client_for(endpoint: str, service: str) -> Any:
    config = Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2})
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )


def create_tables(dynamodb: Any, prefix: str = "cdp-dev") -> dict[str, str]:
    """Create every table; answer the environment variables that name them."""
    environment = {}
    for spec in tables.ALL_TABLES:
        name = table_name(spec, prefix)
        dynamodb.create_table(**spec.create_table_args(name))
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        environment[spec.env_var] = name
    return environment


def apply_environment(values: dict[str, str]) -> None:
    os.environ.update(values)


def create_queues(sqs: Any, prefix: str = "cdp-dev") -> tuple[dict[str, str], dict[str, str]]:
    """Every task queue of `infra.wiring`; answers (env var -> URL, env var -> ARN)."""
    from infra.wiring import QUEUES

    urls, arns = {}, {}
    for spec in QUEUES:
        # Short locally, so that a failed task comes back quickly.
        attributes = {"VisibilityTimeout": "5"}
        name = f"{prefix}-{spec.logical_name.lower()}"
        if spec.fifo:
            attributes["FifoQueue"] = "true"
            name += ".fifo"
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        urls[spec.env_var] = url
        arns[spec.env_var] = queue_arn(url)
    return urls, arns


def queue_arn(url: str) -> str:
    """A queue's ARN from its URL (`…/<account>/<name>`, as SQS and moto write it)."""
    account, name = url.rstrip("/").rsplit("/", 2)[-2:]
    return f"arn:aws:sqs:{REGION}:{account}:{name}"


def create_bus(events: Any, prefix: str = "cdp-dev") -> dict[str, str]:
    from infra.wiring import EVENT_BUS_ENV

    name = f"{prefix}-bus"
    events.create_event_bus(Name=name)
    return {EVENT_BUS_ENV: name}


def create_secrets(
    secretsmanager: Any, prefix: str = "cdp-dev", identity_secret: str | None = None
) -> dict[str, str]:
    """Every secret of `infra.wiring`, with random values (the identity secret can be given,
    so that a local website can sign user ids with a known key)."""
    import secrets

    from infra.wiring import (
        DESTINATION_SECRETS_ENV,
        DESTINATION_SECRETS_PATH,
        IDENTITY_SECRET,
        SECRETS,
    )

    # Destinations' secrets are made as destinations are saved, under this prefix.
    names = {DESTINATION_SECRETS_ENV: f"{prefix}/{DESTINATION_SECRETS_PATH}"}
    for spec in SECRETS:
        name = f"{prefix}/{spec.logical_name}"
        value = identity_secret if spec is IDENTITY_SECRET and identity_secret else None
        secretsmanager.create_secret(Name=name, SecretString=value or secrets.token_urlsafe(32))
        names[spec.env_var] = name
    return names
