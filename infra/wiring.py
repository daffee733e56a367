"""The one description of every function: its handler, routes, tables and settings.

The CDK stack builds Lambda functions, API routes and IAM grants from it; `cdp dev` routes
requests and sets environments from it. A route added here exists in both, or in neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cdp.access.roles import CONSOLE_API
from cdp.runtime import tables
from cdp.runtime.settings import FunctionSettings
from cdp.runtime.settings.admin_api import AdminApiSettings
from cdp.runtime.settings.collector import CollectorSettings
from cdp.runtime.settings.computed_backfill import ComputedBackfillSettings
from cdp.runtime.settings.console import ConsoleSettings
from cdp.runtime.settings.deliverer import DelivererSettings
from cdp.runtime.settings.erasure_sweep import ErasureSweepSettings
from cdp.runtime.settings.forms_api import FormsApiSettings
from cdp.runtime.settings.importer import ImporterSettings
from cdp.runtime.settings.lake_profiles import LakeProfilesSettings
from cdp.runtime.settings.lake_upkeep import LakeUpkeepSettings
from cdp.runtime.settings.lake_writer import LakeWriterSettings
from cdp.runtime.settings.privacy_api import PrivacyApiSettings
from cdp.runtime.settings.profile_api import ProfileApiSettings
from cdp.runtime.settings.profile_builder import ProfileBuilderSettings
from cdp.runtime.settings.publisher import PublisherSettings
from cdp.runtime.settings.scheduler import SchedulerSettings
from cdp.runtime.settings.segment_backfill import SegmentBackfillSettings
from cdp.runtime.settings.webhooks import WebhooksSettings
from cdp.runtime.tables import TableSpec

# `read_delete`: reads and deletes, never puts or updates an item (erasure). IAM cannot tell
# a BatchWriteItem's deletes from its puts; the code uses it for deletes only.
Access = Literal["read", "write", "read_write", "read_delete"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway syntax: /v1/projects/{write_key}/settings
    # Only for someone signed in to the console: API Gateway's JWT authorizer checks their
    # token (Cognito's) before the function runs, and hands it the token's claims.
    signed_in: bool = False


def with_console_copy(*routes: Route) -> tuple[Route, ...]:
    """Routes for servers (secret key), and each again under the console's API for people
    signed in to it: the function answers both, by the caller's role on the copy."""
    copies = (
        Route(route.method, CONSOLE_API + route.path.removeprefix("/v1"), signed_in=True)
        for route in routes
    )
    return (*routes, *copies)


@dataclass(frozen=True)
class StreamSource:
    """A table stream feeding a function, with the event source mapping's settings. The local
    runtime's stream runner honours the same batch size, window and retry bound (the window
    `local_batching_window_seconds` where one is given)."""

    table: tables.TableSpec
    batch_size: int = 100
    batching_window_seconds: int = 1
    # `cdp dev`'s window, where it differs: on one machine a commit costs nothing, and what
    # was just sent should be there to look at.
    local_batching_window_seconds: int | None = None
    retry_attempts: int = 10
    max_record_age_seconds: int = 6 * 3600
    parallelization_factor: int = 1


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue of tasks; `env_var` carries its URL to the functions that send to it."""

    logical_name: str
    env_var: str
    visibility_timeout_seconds: int = 900
    max_receive_count: int = 5  # then the task goes to the queue's dead-letter queue
    fifo: bool = False  # in order per message group, deduplicated for five minutes


BACKFILL_QUEUE = QueueSpec("Backfill", "BACKFILL_QUEUE_URL")
# Sweeps a few minutes after each erasure (the message is sent with a delay).
ERASURE_QUEUE = QueueSpec("Erasure", "ERASURE_QUEUE_URL", visibility_timeout_seconds=300)
# What each destination must hear, in order per destination and person (cdp.storage.deliveries).
# A message whose tool keeps asking to wait (or does not answer) is tried 24 times over about
# four and a half hours (a backoff doubling to 15 minutes, or the tool's longer waits), then
# kept in the dead-letter queue for `cdp redrive`.
DELIVERIES_QUEUE = QueueSpec(
    "Deliveries",
    "DELIVERIES_QUEUE_URL",
    visibility_timeout_seconds=120,
    max_receive_count=24,
    fifo=True,
)
# Erasures for the data lake, sent on by the erasure sweep once it has run.
LAKE_ERASURES_QUEUE = QueueSpec(
    "LakeErasures", "LAKE_ERASURES_QUEUE_URL", visibility_timeout_seconds=900
)
# A new or changed computed trait's past, one task per part of its identities.
COMPUTED_BACKFILL_QUEUE = QueueSpec("ComputedBackfill", "COMPUTED_BACKFILL_QUEUE_URL")
QUEUES: tuple[QueueSpec, ...] = (
    BACKFILL_QUEUE,
    COMPUTED_BACKFILL_QUEUE,
    ERASURE_QUEUE,
    DELIVERIES_QUEUE,
    LAKE_ERASURES_QUEUE,
)


@dataclass(frozen=True)
class SecretSpec:
    """A secret in Secrets Manager; `env_var` carries its name to the functions that read it."""

    logical_name: str
    env_var: str
    description: str


IDENTITY_SECRET = SecretSpec(
    "IdentityVerification",
    "IDENTITY_SECRET_NAME",
    "Key websites sign user ids with (HMAC-SHA256) to prove who is signed in",
)
SUPPRESSION_PEPPER = SecretSpec(
    "SuppressionPepper",
    "SUPPRESSION_PEPPER_NAME",
    "Pepper of the hashes that keep erased people out",
)
SECRETS: tuple[SecretSpec, ...] = (IDENTITY_SECRET, SUPPRESSION_PEPPER)

# The bucket files are dropped into for server-side imports (`imports/<source>/<file>`).
IMPORT_BUCKET_ENV = "IMPORT_BUCKET"

# The tag on failure and dead-letter queues by which `cdp redrive` finds them in a stack:
# `stream:<function>` (a stream consumer's on-failure queue), `queue:<name>` (a queue's
# dead-letter queue) or `destination:<name>` (events a destination did not take).
REDRIVE_TAG = "cdp:redrive"

# The EventBridge bus the publisher puts segment and profile events on.
EVENT_BUS_ENV = "EVENT_BUS_NAME"

# Destinations' secrets (API keys, tokens) are made in Secrets Manager when a destination is
# saved, named `<prefix><destination id>`; the prefix is the stack's name and this path.
DESTINATION_SECRETS_ENV = "DESTINATION_SECRET_PREFIX"
DESTINATION_SECRETS_PATH = "destinations/"


@dataclass(frozen=True)
class QueueSource:
    queue: QueueSpec
    batch_size: int = 1
    # The consumer sets a message's visibility itself (a tool's Retry-After): it gets the
    # queue's URL and the permission.
    sets_visibility: bool = False


@dataclass(frozen=True)
class AwsPermission:
    """AWS calls a function makes beyond its tables, queues and secrets, on resources of the
    stack's account and region named by `resource` (`contact-list/*`)."""

    service: str
    actions: tuple[str, ...]
    resource: str


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
    queue: QueueSource | None = None  # consumes this queue
    sends_to: tuple[QueueSpec, ...] = ()
    publishes_events: bool = False
    secrets: tuple[SecretSpec, ...] = ()
    destination_secrets: Literal["read", "manage"] | None = None
    permissions: tuple[AwsPermission, ...] = ()
    scans: tuple[TableSpec, ...] = ()  # tables it may scan (never on a hot path)
    reads_metrics: bool = False  # the functions' own metrics, from CloudWatch
    imports: bool = False  # triggered by files in the import bucket
    # the data lake's tables (cdp.lake): "write" also deletes and creates them
    lake: Literal["read", "write"] | None = None
    # needs the third-party packages of layers/dependencies/requirements.txt
    third_party: bool = False
    # Caps how many run at once, where many parallel copies would only crowd the tables.
    reserved_concurrency: int | None = None
    every_minutes: int | None = None  # runs on a schedule
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
        # analytics-java posts to `/v1/import/`: API Gateway gives a trailing slash to a
        # greedy path, as a route cannot end in one.
        Route("POST", "/v1/import/{proxy+}"),
        *_posts("/v1/screen", "/v1/group", "/v1/alias"),
        *_posts("/v1/b", "/v1/i", "/v1/t", "/v1/p", "/v1/s", "/v1/g", "/v1/a", "/v1/m"),
        Route("GET", "/v1/projects/{write_key}/settings"),
        # RudderStack's: the batch its browser SDK sends on page exit, and the source
        # configuration its browser and mobile SDKs load first (always asked for with a
        # trailing slash by the browser SDK, which API Gateway routes to the greedy path).
        *_posts("/beacon/v1/batch"),
        Route("GET", "/sourceConfig"),
        Route("GET", "/sourceConfig/{proxy+}"),
        # The tracker for websites (snippet/), and its forms helpers; the same under their
        # content-hash names (`cdp.<hash>.js`), immutable.
        Route("GET", "/v1/cdp.js"),
        Route("GET", "/v1/cdp-forms.js"),
        Route("GET", "/v1/static/{file}"),
    ),
    tables=(
        (tables.EVENTS, "write"),
        (tables.QUARANTINE, "write"),
        (tables.KEYS, "read"),
        (tables.SUPPRESSIONS, "read"),
        (tables.LIVE, "write"),  # only while someone watches a source
    ),
    secrets=(SUPPRESSION_PEPPER,),
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
        (tables.SUPPRESSIONS, "read"),
    ),
    secrets=(SUPPRESSION_PEPPER,),
    sends_to=(DELIVERIES_QUEUE,),  # the track events destinations receive
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
        Route("GET", "/v1/profiles/{identity}/segments/{segment_id}/explain"),
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
    description="Admin API: segments, computed traits and other configuration",
    routes=with_console_copy(
        Route("GET", "/v1/computed-traits"),
        Route("GET", "/v1/computed-traits/{trait_id}"),
        Route("PUT", "/v1/computed-traits/{trait_id}"),
        Route("DELETE", "/v1/computed-traits/{trait_id}"),
        Route("POST", "/v1/computed-traits/{trait_id}/backfill"),
        Route("GET", "/v1/computed-traits/{trait_id}/backfill"),
        Route("GET", "/v1/segments"),
        Route("GET", "/v1/segments/{segment_id}"),
        Route("PUT", "/v1/segments/{segment_id}"),
        Route("DELETE", "/v1/segments/{segment_id}"),
        Route("GET", "/v1/segments/{segment_id}/members"),
        Route("GET", "/v1/segments/{segment_id}/members.csv"),
        Route("GET", "/v1/segments/{segment_id}/changes"),
        Route("POST", "/v1/segments/preview"),
        Route("GET", "/v1/forms"),
        Route("GET", "/v1/forms/{form_id}"),
        Route("PUT", "/v1/forms/{form_id}"),
        Route("DELETE", "/v1/forms/{form_id}"),
        Route("POST", "/v1/sources"),
        Route("GET", "/v1/sources"),
        Route("GET", "/v1/sources/{name}"),
        Route("POST", "/v1/sources/{name}/rotate"),
        Route("POST", "/v1/sources/{name}/keys"),
        Route("POST", "/v1/sources/{name}/disable"),
        Route("POST", "/v1/sources/{name}/watch"),
        Route("GET", "/v1/sources/{name}/live"),
        Route("GET", "/v1/webhooks"),
        Route("PUT", "/v1/webhooks/{source}"),
        Route("DELETE", "/v1/webhooks/{source}"),
        Route("GET", "/v1/destinations"),
        Route("GET", "/v1/destinations/{destination_id}"),
        Route("PUT", "/v1/destinations/{destination_id}"),
        Route("DELETE", "/v1/destinations/{destination_id}"),
        Route("GET", "/v1/destinations/{destination_id}/deliveries"),
        Route("POST", "/v1/destinations/{destination_id}/resync"),
    ),
    tables=(
        (tables.CONFIG, "read_write"),
        (tables.AUDIT, "write"),  # each page of members given with identifiers whole
        (tables.KEYS, "read_write"),
        (tables.MEMBERS, "read"),
        (tables.PROFILES, "read"),  # a sample, to preview a segment; members' identifiers
        (tables.LIVE, "read"),
        (tables.DELIVERIES, "read_delete"),  # figures read; a deleted destination's dropped
    ),
    # a segment's backfill, a computed trait's, a destination's resync
    sends_to=(BACKFILL_QUEUE, COMPUTED_BACKFILL_QUEUE, DELIVERIES_QUEUE),
    scans=(tables.PROFILES,),
    destination_secrets="manage",
)

PUBLISHER = FunctionSpec(
    name="publisher",
    handler="functions.publisher.handler.handler",
    settings=PublisherSettings,
    description="Profiles stream: segment and profile events to EventBridge, membership "
    "index, deliveries to destinations",
    tables=(
        (tables.MEMBERS, "read_write"),
        (tables.IDENTITIES, "read_write"),
        (tables.CONFIG, "read"),  # the destinations
    ),
    stream=StreamSource(tables.PROFILES, batch_size=100, batching_window_seconds=1),
    publishes_events=True,
    sends_to=(DELIVERIES_QUEUE,),
    timeout_seconds=60,
)

DELIVERER = FunctionSpec(
    name="deliverer",
    handler="functions.deliverer.handler.handler",
    settings=DelivererSettings,
    description="Deliveries queue: audiences, traits and erasures to each destination's tool",
    tables=(
        (tables.CONFIG, "read"),
        (tables.DELIVERIES, "read_write"),
        (tables.MEMBERS, "read"),  # a resync's pages
        (tables.PROFILES, "read"),
    ),
    # FIFO queues give Lambda at most 10 messages a batch; each carries up to 100 deliveries.
    queue=QueueSource(DELIVERIES_QUEUE, batch_size=10, sets_visibility=True),
    sends_to=(DELIVERIES_QUEUE,),  # a resync's additions and next page
    destination_secrets="read",
    # The Amazon SES connector keeps contacts in the account's contact lists.
    permissions=(
        AwsPermission(
            "ses",
            ("ses:CreateContact", "ses:UpdateContact", "ses:DeleteContact"),
            "contact-list/*",
        ),
    ),
    timeout_seconds=90,
)

SCHEDULER = FunctionSpec(
    name="scheduler",
    handler="functions.scheduler.handler.handler",
    settings=SchedulerSettings,
    description="Re-evaluates profiles whose segments time alone may have changed",
    tables=(
        (tables.PROFILES, "read_write"),
        (tables.IDENTITIES, "read"),
        (tables.CONFIG, "read"),
    ),
    every_minutes=5,
    reserved_concurrency=1,
    timeout_seconds=300,
)

SEGMENT_BACKFILL = FunctionSpec(
    name="segment_backfill",
    handler="functions.segment_backfill.handler.handler",
    settings=SegmentBackfillSettings,
    description="Evaluates existing profiles against a new or changed segment, page by page",
    tables=(
        (tables.PROFILES, "read_write"),
        (tables.IDENTITIES, "read"),
        (tables.CONFIG, "read_write"),
    ),
    queue=QueueSource(BACKFILL_QUEUE),
    sends_to=(BACKFILL_QUEUE,),
    scans=(tables.PROFILES,),
    reserved_concurrency=4,
    timeout_seconds=300,
    memory_mb=1024,
)

COMPUTED_BACKFILL = FunctionSpec(
    name="computed_backfill",
    handler="functions.computed_backfill.handler.handler",
    settings=ComputedBackfillSettings,
    description="Adds a new or changed computed trait's past, read from the data lake, to "
    "the profiles",
    tables=(
        (tables.PROFILES, "read_write"),
        (tables.IDENTITIES, "read"),
        (tables.CONFIG, "read_write"),  # the definitions; the backfill's progress
    ),
    queue=QueueSource(COMPUTED_BACKFILL_QUEUE),
    sends_to=(COMPUTED_BACKFILL_QUEUE,),  # a part's rest, or a task the lake is not ready for
    lake="read",
    reserved_concurrency=4,
    memory_mb=2048,  # a part's events pass through pyarrow a batch at a time
    timeout_seconds=600,  # a part ends its task a minute before, handing the rest on
)

FORMS_API = FunctionSpec(
    name="forms_api",
    handler="functions.forms_api.handler.handler",
    settings=FormsApiSettings,
    description="Progressive forms and the preference center, for browsers (write key)",
    routes=(
        Route("GET", "/v1/forms/{form_id}/next"),
        Route("POST", "/v1/forms/{form_id}/submissions"),
        Route("GET", "/v1/preferences"),
        Route("PUT", "/v1/preferences"),
    ),
    tables=(
        (tables.EVENTS, "write"),
        (tables.QUARANTINE, "write"),
        (tables.KEYS, "read"),
        (tables.PROFILES, "read"),
        (tables.IDENTITIES, "read"),
        (tables.CONFIG, "read"),
        (tables.SUPPRESSIONS, "read"),
    ),
    secrets=(SUPPRESSION_PEPPER, IDENTITY_SECRET),
    browser_facing=True,
)

WEBHOOKS = FunctionSpec(
    name="webhooks",
    handler="functions.webhooks.handler.handler",
    settings=WebhooksSettings,
    description="Inbound webhooks of e-mail tools: engagement events by e-mail address",
    routes=(Route("POST", "/v1/webhooks/{source}"),),
    tables=(
        (tables.EVENTS, "write"),
        (tables.QUARANTINE, "write"),
        (tables.CONFIG, "read"),
        (tables.SUPPRESSIONS, "read"),
    ),
    secrets=(SUPPRESSION_PEPPER,),
    third_party=True,  # cryptography, for SendGrid's signatures
)

IMPORTER = FunctionSpec(
    name="importer",
    handler="functions.importer.handler.handler",
    settings=ImporterSettings,
    description="Imports CSV and JSON Lines files dropped into the import bucket",
    tables=(
        (tables.EVENTS, "write"),
        (tables.QUARANTINE, "write"),
        (tables.SUPPRESSIONS, "read"),
    ),
    secrets=(SUPPRESSION_PEPPER,),
    imports=True,
    reserved_concurrency=2,
    timeout_seconds=900,
    memory_mb=1024,
)

PRIVACY_API = FunctionSpec(
    name="privacy_api",
    handler="functions.privacy_api.handler.handler",
    settings=PrivacyApiSettings,
    description="Rights of the person: export everything, erase everything, unmerge",
    routes=(
        *with_console_copy(
            Route("GET", "/v1/profiles/{identity}/export"),
            Route("DELETE", "/v1/profiles/{identity}"),
        ),
        Route("POST", "/v1/profiles/{identity}/unmerge"),
    ),
    tables=(
        # events: deleted, and other people's events that name the person redacted
        (tables.EVENTS, "read_write"),
        (tables.QUARANTINE, "read_delete"),
        (tables.PROFILES, "read_write"),
        (tables.IDENTITIES, "read_write"),
        (tables.SUPPRESSIONS, "read_write"),
        (tables.CONFIG, "read"),
        (tables.KEYS, "read"),
        (tables.AUDIT, "write"),  # every export and erasure is written down
    ),
    secrets=(SUPPRESSION_PEPPER,),
    sends_to=(ERASURE_QUEUE, COMPUTED_BACKFILL_QUEUE),  # an unmerge's computed pasts
    scans=(tables.QUARANTINE,),
    # An export reads the person's events past the hot window from the lake (pyarrow: room
    # for a scan of the files that may hold them).
    lake="read",
    memory_mb=1024,
    timeout_seconds=120,
)

ERASURE_SWEEP = FunctionSpec(
    name="erasure_sweep",
    handler="functions.erasure_sweep.handler.handler",
    settings=ErasureSweepSettings,
    description="Erases, once more, what arrived for an erased person in the minute after",
    tables=(
        (tables.EVENTS, "read_write"),  # deleted, or redacted where they name the person
        (tables.QUARANTINE, "read_delete"),
        (tables.PROFILES, "read_write"),  # deleted, or redacted where they name the person
        (tables.IDENTITIES, "read_write"),  # links deleted; notes of shared devices updated
    ),
    queue=QueueSource(ERASURE_QUEUE),
    sends_to=(LAKE_ERASURES_QUEUE,),
    scans=(tables.QUARANTINE,),
    timeout_seconds=120,
)

# The data lake (cdp.lake): Iceberg tables under this location, `s3://<lake bucket>/tables`
# with the Glue catalog in AWS, a directory with a SQLite catalog in `cdp dev`.
LAKE_WAREHOUSE_ENV = "LAKE_WAREHOUSE"

LAKE_WRITER = FunctionSpec(
    name="lake_writer",
    handler="functions.lake_writer.handler.handler",
    settings=LakeWriterSettings,
    description="Events stream: every stored event into the data lake's events table",
    # Large batches, few commits: each commit writes a handful of files to S3. In `cdp dev`
    # events can be queried about 5 seconds after they are stored.
    stream=StreamSource(
        tables.EVENTS,
        batch_size=1000,
        batching_window_seconds=30,
        local_batching_window_seconds=5,
    ),
    tables=((tables.SUPPRESSIONS, "read"),),  # events of erased people are left out
    secrets=(SUPPRESSION_PEPPER,),
    lake="write",
    memory_mb=1024,
    timeout_seconds=300,
)

LAKE_PROFILES = FunctionSpec(
    name="lake_profiles",
    handler="functions.lake_profiles.handler.handler",
    settings=LakeProfilesSettings,
    description="Profiles stream: each profile's current state into the data lake",
    tables=((tables.CONFIG, "read"),),  # computed traits' definitions
    # Each commit rewrites the profiles' buckets: locally too, rarely (a 5 s window slowed
    # `cdp dev` under load enough to fail the load and import tests).
    stream=StreamSource(tables.PROFILES, batch_size=1000, batching_window_seconds=30),
    lake="write",
    memory_mb=1024,
    timeout_seconds=300,
)

LAKE_UPKEEP = FunctionSpec(
    name="lake_upkeep",
    handler="functions.lake_upkeep.handler.handler",
    settings=LakeUpkeepSettings,
    description="The data lake: erasures, retention, compaction and file clean-up",
    # After the erasure sweep: by then whatever the person sent before the erasure is in the
    # lake, and nothing they send after it gets there (the suppression list).
    queue=QueueSource(LAKE_ERASURES_QUEUE),
    every_minutes=60,
    lake="write",
    reserved_concurrency=1,  # one rewrite of the tables at a time
    memory_mb=2048,  # compaction holds a day of events
    timeout_seconds=900,
)

CONSOLE = FunctionSpec(
    name="console",
    handler="functions.console.handler.handler",
    settings=ConsoleSettings,
    description="The console: its page, overview, profile search, 360-degree profile, audit log",
    routes=(
        *(
            Route("GET", path, signed_in=True)
            for path in (
                "/console/api/session",
                "/console/api/overview",
                "/console/api/search",
                "/console/api/profiles/{identity}",
                "/console/api/profiles/{identity}/events",
                "/console/api/audit",
            )
        ),
        # The page, its files and where to sign in: public. The greedy path last (the local
        # gateway takes the first route that matches; API Gateway, the most specific).
        Route("GET", "/console/api/config"),
        Route("GET", "/console/assets/{file}"),
        Route("GET", "/console"),
        Route("GET", "/console/{proxy+}"),
    ),
    tables=(
        (tables.EVENTS, "read"),
        (tables.PROFILES, "read"),
        (tables.IDENTITIES, "read"),
        (tables.CONFIG, "read"),
        (tables.AUDIT, "read_write"),
    ),
    scans=(tables.PROFILES,),  # a sample, for the overview's figures
    reads_metrics=True,
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    COLLECTOR,
    PROFILE_BUILDER,
    PROFILE_API,
    ADMIN_API,
    PUBLISHER,
    DELIVERER,
    SCHEDULER,
    SEGMENT_BACKFILL,
    COMPUTED_BACKFILL,
    FORMS_API,
    WEBHOOKS,
    IMPORTER,
    PRIVACY_API,
    ERASURE_SWEEP,
    CONSOLE,
    LAKE_WRITER,
    LAKE_PROFILES,
    LAKE_UPKEEP,
)


# Powertools' settings of every deployed function, besides its service name.
RUNTIME_ENV = {
    "POWERTOOLS_METRICS_NAMESPACE": "CDP",
    # Traces show where a call failed, not the exception's message: messages quote their
    # input, and input is personal data (the logs follow the same rule).
    "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
    # No pydantic plugins are installed: without this, building the first model reads the
    # metadata of every installed package to look for them, in each cold start.
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
}


def resource_env_vars(spec: FunctionSpec) -> tuple[str, ...]:
    """The variables that name the resources `spec` uses: tables, queues it sends to, the
    bus, secrets, the import bucket."""
    return (
        *(table.env_var for table, _ in spec.tables),
        *(queue.env_var for queue in spec.sends_to),
        *((EVENT_BUS_ENV,) if spec.publishes_events else ()),
        *(secret.env_var for secret in spec.secrets),
        *((IMPORT_BUCKET_ENV,) if spec.imports else ()),
        *((LAKE_WAREHOUSE_ENV,) if spec.lake else ()),
        *((DESTINATION_SECRETS_ENV,) if spec.destination_secrets else ()),
        *(
            (spec.queue.queue.env_var,)
            if spec.queue is not None
            and spec.queue.sets_visibility
            and spec.queue.queue not in spec.sends_to
            else ()
        ),
    )


def function_environment(
    spec: FunctionSpec, resources: Mapping[str, str], settings: Mapping[str, object]
) -> dict[str, str]:
    """The environment of one function: the names of its resources, taken from `resources` by
    variable (CloudFormation tokens in the stack, real names locally; a missing one is an
    error), the values `settings` (by setting name) gives for the fields of its settings
    model, its `extra_env`, and Powertools' settings."""
    environment = {name: resources[name] for name in resource_env_vars(spec)}
    for name in spec.settings.model_fields:
        if name.upper() not in environment and name in settings:
            value = settings[name]
            environment[name.upper()] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    return {**environment, **spec.extra_env, "POWERTOOLS_SERVICE_NAME": spec.name, **RUNTIME_ENV}


def shared_environment(
    specs: Iterable[FunctionSpec], resources: Mapping[str, str], settings: Mapping[str, object]
) -> dict[str, str]:
    """The environments of functions that run in one process (`cdp dev`, the bench, the
    tests), together: they agree on every variable but the service name, which each handler
    gives Powertools itself, and which is left out."""
    environment: dict[str, str] = {}
    for spec in specs:
        environment |= function_environment(spec, resources, settings)
    del environment["POWERTOOLS_SERVICE_NAME"]
    return environment
