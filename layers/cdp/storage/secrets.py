"""Secrets from AWS Secrets Manager (the identity-verification key, the suppression pepper):
fetched on first use and cached for five minutes.

Read with our own client rather than Powertools' parameters utility, which imports boto3 (and
its AppConfig, SSM and DynamoDB providers): a function's first request would pay for that
import, which `clients` avoids (issue 16)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from cdp.storage import clients

MAX_AGE_SECONDS = 300.0


def secret(
    name: str,
    *,
    client: Any = None,
    max_age_seconds: float = MAX_AGE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[], str]:
    """A function answering the secret's current value (cached; rotations arrive within
    five minutes)."""
    cached: tuple[float, str] | None = None

    def value() -> str:
        nonlocal cached
        now = clock()
        if cached is None or cached[0] <= now:
            answer = (client or clients.secretsmanager()).get_secret_value(SecretId=name)
            cached = (now + max_age_seconds, answer["SecretString"])
        return cached[1]

    return value


class DestinationSecrets:
    """Destinations' secrets (API keys, tokens), one secret each, named `<prefix><id>`: made
    when a destination is saved with one, replaced when it is saved with another, deleted with
    the destination. Never read back by the admin API: only the deliverer reads them."""

    def __init__(self, prefix: str, *, client: Any) -> None:
        self.prefix = prefix
        self.client = client

    def name(self, destination_id: str) -> str:
        return f"{self.prefix}{destination_id}"

    def put(self, destination_id: str, value: str) -> None:
        name = self.name(destination_id)
        try:
            self.client.put_secret_value(SecretId=name, SecretString=value)
        except self.client.exceptions.ResourceNotFoundException:
            self.client.create_secret(
                Name=name,
                SecretString=value,
                Description=f"the secret of destination {destination_id}",
            )

    def delete(self, destination_id: str) -> None:
        # At once: a destination made again under the same id gets a new secret.
        with suppress(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_secret(
                SecretId=self.name(destination_id), ForceDeleteWithoutRecovery=True
            )
