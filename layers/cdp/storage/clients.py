"""Cached AWS client factories, created on first use (never at import time).

Clients come from botocore directly: boto3 adds only resources and S3 transfer helpers, which
nothing here uses, and importing it costs a cold start tens of milliseconds (issue 16).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import botocore.session
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
def session() -> botocore.session.Session:
    """One session per process: credentials and the region from the environment, as boto3's
    default session reads them; the API descriptions it loads are shared by every client."""
    return botocore.session.get_session()


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    return session().create_client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def events() -> Any:
    return session().create_client("events", config=_CONFIG)


@lru_cache(maxsize=1)
def sqs() -> Any:
    return session().create_client("sqs", config=_CONFIG)


@lru_cache(maxsize=1)
def s3() -> Any:
    return session().create_client("s3", config=_CONFIG)


@lru_cache(maxsize=1)
def secretsmanager() -> Any:
    return session().create_client("secretsmanager", config=_CONFIG)


@lru_cache(maxsize=1)
def cloudwatch() -> Any:
    return session().create_client("cloudwatch", config=_CONFIG)
