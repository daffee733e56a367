"""The one description of every function: its handler, routes, tables and settings.

The CDK stack builds Lambda functions, API routes and IAM grants from it; `cdp dev` routes
requests and sets environments from it. A route added here exists in both, or in neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cdp import tables
from cdp.settings import CollectorSettings, FunctionSettings

Access = Literal["read", "write", "read_write"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway syntax: /v1/projects/{write_key}/settings


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

FUNCTIONS: tuple[FunctionSpec, ...] = (COLLECTOR,)
