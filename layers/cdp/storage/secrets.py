"""Secrets from AWS Secrets Manager (the identity-verification key, the suppression pepper):
fetched on first use and cached for five minutes.

Read with our own client rather than Powertools' parameters utility, which imports boto3 (and
its AppConfig, SSM and DynamoDB providers): a function's first request would pay for that
import, which `clients` avoids (issue 16)."""

from __future__ import annotations

import time
from collections.abc import Callable
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
