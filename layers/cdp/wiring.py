"""The one description of every function: its handler, routes, tables and settings.

The CDK stack builds Lambda functions, API routes and IAM grants from it; `cdp dev` routes
requests and sets environments from it. A route added here exists in both, or in neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cdp import tables
from cdp.settings import (
    AdminApiSettings,
    CollectorSettings,
    FunctionSettings,
    ProfileApiSettings,
    ProfileBuilderSettings,
)

Access = Literal["read", "write", "read_write"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway syntax: /v1/projects/{write_key}/settings


@dataclass(frozen=True)
class StreamSource:
    """A table stream feeding a function, with the event source mapping's settings. The local
    runtime's stream runner honours the same batch size, window and retry bound."""

    table: tables.TableSpec
    batch_size: int = 100
    batching_window_seconds: int = 1
    retry_attempts: int = 10
    max_record_age_seconds: int = 6 * 3600
    parallelization_factor: int = 1


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    settings: type[FunctionSettings]
    description: str
    routes: tuple[Route, ...] = ()
    tables: tuple[tuple[tables.TableSpec, Access], ...] = ()
    # Browsers call it from any allowed site: it answers CORS preflights.
    browser_facing: bool = False
    stream: StreamSource | None = None
    memory_mb: int = 512
    timeout_seconds: int = 10
    extra_env: dict[str, str] = field(default_factory=dict)


def _posts(*paths: str) -> tuple[Route, ...]:
    return tuple(Route("POST", path) for path in paths)


COLLECTOR = FunctionSpec(
    name="collector",
    handler="functions.collector.handler.handler",
    settings=CollectorSettings,
    description="Segment Tracking API: validates messages and stores events",
    routes=(
        # Segment's documented paths, then the short ones of analytics.js (analytics-next)
        # and the mobile libraries, which post to `<apiHost>/<first letter>` and `/b`.
        *_posts("/v1/batch", "/v1/import", "/v1/identify", "/v1/track", "/v1/page"),
        *_posts("/v1/screen", "/v1/group", "/v1/alias"),
        *_posts("/v1/b", "/v1/i", "/v1/t", "/v1/p", "/v1/s", "/v1/g", "/v1/a", "/v1/m"),
        Route("GET", "/v1/projects/{write_key}/settings"),
    ),
    tables=(
        (tables.EVENTS, "write"),
        (tables.QUARANTINE, "write"),
        (tables.KEYS, "read"),
    ),
    browser_facing=True,
)

PROFILE_BUILDER = FunctionSpec(
    name="profile_builder",
    handler="functions.profile_builder.handler.handler",
    settings=ProfileBuilderSettings,
    description="Events stream: identity resolution, traits and computed traits",
    tables=(
        (tables.PROFILES, "read_write"),
        (tables.IDENTITIES, "read_write"),
        (tables.CONFIG, "read"),
    ),
    stream=StreamSource(tables.EVENTS, batch_size=100, batching_window_seconds=1),
    memory_mb=1024,
    timeout_seconds=60,
)

PROFILE_API = FunctionSpec(
    name="profile_api",
    handler="functions.profile_api.handler.handler",
    settings=ProfileApiSettings,
    description="Profile API: lookups by any identifier, timelines",
    routes=(
        Route("GET", "/v1/profiles/{identity}"),
        Route("GET", "/v1/profiles/{identity}/events"),
        Route("GET", "/v1/openapi.json"),
    ),
    tables=(
        (tables.EVENTS, "read"),
        (tables.PROFILES, "read"),
        (tables.IDENTITIES, "read"),
        (tables.CONFIG, "read"),
        (tables.KEYS, "read"),
    ),
)

ADMIN_API = FunctionSpec(
    name="admin_api",
    handler="functions.admin_api.handler.handler",
    settings=AdminApiSettings,
    description="Admin API: computed traits and other configuration",
    routes=(
        Route("GET", "/v1/computed-traits"),
        Route("GET", "/v1/computed-traits/{trait_id}"),
        Route("PUT", "/v1/computed-traits/{trait_id}"),
        Route("DELETE", "/v1/computed-traits/{trait_id}"),
    ),
    tables=((tables.CONFIG, "read_write"), (tables.KEYS, "read")),
)

FUNCTIONS: tuple[FunctionSpec, ...] = (COLLECTOR, PROFILE_BUILDER, PROFILE_API, ADMIN_API)
