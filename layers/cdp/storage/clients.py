"""Cached boto3 client factories, created on first use (never at import time)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retries cover throttling errors raised for a whole call; partially processed batch
# writes (UnprocessedItems) are retried by the stores themselves.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def events() -> Any:
    return boto3.client("events", config=_CONFIG)


@lru_cache(maxsize=1)
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


@lru_cache(maxsize=1)
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)
