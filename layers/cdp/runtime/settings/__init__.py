"""Settings of each function, read from its environment at first invocation: the parts
they share here, and each function's own model in a module named after it
(`cdp.runtime.settings.collector`), so that a cold start defines one model, not eighteen.

The CDK stack sets exactly these variables (the infra tests compare the two), and `cdp dev`
sets them for the local runtime. Resource names have no defaults: a missing table name is a
deployment error, reported at once, never papered over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _comma_separated(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _json_list(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else []
    return value


Origins = Annotated[list[str], BeforeValidator(_comma_separated)]
Purposes = Annotated[list[str], BeforeValidator(_comma_separated)]
# Identifier values that are placeholders, beyond the defaults (a JSON list; see
# cdp.profiles.identity).
Blocklist = Annotated[list[str], BeforeValidator(_json_list)]


class FunctionSettings(BaseModel):
    # A function reads its model once: the validator is built then, not when it is imported.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    @classmethod
    def env_names(cls) -> set[str]:
        return {name.upper() for name in cls.model_fields}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        environ = os.environ if environ is None else environ
        values = {
            name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ
        }
        return cls.model_validate(values)


class ErasedPeopleSettings(FunctionSettings):
    """A function that keeps erased people out: it reads the suppressions table."""

    suppressions_table: str = Field(min_length=1)
    suppression_pepper_name: str = Field(min_length=1)
    # How long a warm function trusts what it read there (0: not at all): an erasure takes
    # this long to reach it, and the erasure's sweep waits longer (`erasure_sweep_delay_seconds`).
    suppression_cache_seconds: int = Field(default=60, ge=0, le=300)


# 13 months: a year-over-year comparison is possible, and little is kept beyond it.
EVENT_RETENTION_DAYS = 395
# The hot window: how long an event stays in the events table (DynamoDB TTL), where timelines,
# the console, exports and unmerges read it; the lake keeps it for the whole retention. Cost
# decides the default (`make bench`, docs/performance.md section 7, measured 2026-11-28): a
# million events cost $1.22 to process (batch size 20) and $0.15 in the lake (writes, 395
# days of Parquet at 65 bytes an event, catalog, a query a day), and DynamoDB keeps them for
# $0.0046 a day. The target of $1.50 all in leaves room for 28 days in DynamoDB (the 90 the
# issue first suggested would make $1.78); 21 days keeps a margin for the figures' noise:
# $1.47. Three weeks hold what the console shows of a person's recent activity and an unmerge
# soon after a mistaken merge; older events are answered from the lake (`cdp sql`).
EVENT_HOT_DAYS = 21


def hot_window_default(data: Any) -> Any:
    """A retention given without a hot window shortens the default window to fit in it."""
    if isinstance(data, dict) and "event_hot_days" not in data:
        try:
            retention = int(data.get("event_retention_days", EVENT_RETENTION_DAYS))
        except (TypeError, ValueError):
            return data  # the retention's own validation says what is wrong with it
        if retention >= 1:
            return {**data, "event_hot_days": min(EVENT_HOT_DAYS, retention)}
    return data


def hot_window_problem(hot_days: int, retention_days: int) -> str | None:
    if hot_days > retention_days:
        return (
            f"event_hot_days ({hot_days}) must be at most event_retention_days "
            f"({retention_days}): no event is kept longer than its retention, in the events "
            "table or in the lake"
        )
    return None


class EventWindowSettings(FunctionSettings):
    """Of a function that stores events or reads them back: how long they are kept, in the
    events table (`event_hot_days`) and in the lake (`event_retention_days`)."""

    event_retention_days: int = Field(default=EVENT_RETENTION_DAYS, ge=1, le=3650)
    event_hot_days: int = Field(default=EVENT_HOT_DAYS, ge=1, le=3650)

    @model_validator(mode="before")
    @classmethod
    def _hot_default(cls, data: Any) -> Any:
        return hot_window_default(data)

    @model_validator(mode="after")
    def _hot_window(self) -> Self:
        problem = hot_window_problem(self.event_hot_days, self.event_retention_days)
        if problem:
            raise ValueError(problem)
        return self


class LakeSettings(FunctionSettings):
    # Where the lake's tables are: `s3://bucket/prefix` (AWS, Glue catalog `lake_database`)
    # or a directory (`cdp dev`, a SQLite catalog in it).
    lake_warehouse: str = Field(min_length=1)
    lake_database: str = Field(default="cdp", min_length=1)
