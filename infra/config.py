"""Deployment configuration, read from the `cdp` key of the CDK context (`cdk.json`, or
`-c cdp='{...}'` on the command line). Every field is documented in the README."""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cdp.runtime.settings import (
    EVENT_HOT_DAYS,
    EVENT_RETENTION_DAYS,
    hot_window_default,
    hot_window_problem,
)
from cdp.sharing.changes import SOURCE as CHANGES_SOURCE
from cdp.sharing.urls import webhook_url_problem

EventType = Literal[
    "segment.entered",
    "segment.exited",
    "profile.updated",
    "profile.merged",
    "profile.unmerged",
    "profile.deleted",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)


class WebhookAuth(BaseModel):
    """How EventBridge authenticates to a webhook; the secret itself stays in Secrets Manager."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["api_key", "basic"]
    secret_name: str = Field(min_length=1, description="a Secrets Manager secret")
    header: str = Field(default="X-Api-Key", description="for api_key: the header to send")
    username: str | None = Field(default=None, description="for basic: the user name")


class Destination(BaseModel):
    """A system that receives segment and profile events: a webhook (EventBridge API
    destination, with rate limit, retries and a dead-letter queue) or an SQS queue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    type: Literal["webhook", "sqs"]
    purpose: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="consent purpose the destination serves: only people who granted it are sent",
    )
    events: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES))
    url: str | None = Field(default=None, pattern=r"^https://")
    rate_per_second: int = Field(default=10, ge=1, le=300)
    auth: WebhookAuth | None = None

    @field_validator("url")
    @classmethod
    def _public(cls, url: str | None) -> str | None:
        problem = url and webhook_url_problem(url)
        if problem:
            raise ValueError(f"a webhook must be a public https:// URL: {problem}")
        return url

    @model_validator(mode="after")
    def _complete(self) -> Destination:
        if self.type == "webhook" and (self.url is None or self.auth is None):
            raise ValueError(f"destination {self.name}: a webhook needs 'url' and 'auth'")
        return self

    def rule_patterns(self) -> dict[str, dict[str, Any]]:
        """The EventBridge rules that bring the bus's events here (by the rule's name after
        the destination's), each pattern as EventBridge reads it: the events it takes, of the
        people who granted its purpose (`for_purposes`, which also names those who just
        withdrew it, once, to say so); erasures of everyone. The stack's rules are built from
        these, and the tests route moto's bus with them."""
        consented = [kind for kind in self.events if kind != "profile.deleted"]
        rules: dict[str, dict[str, Any]] = {}
        if consented:
            rules["rule"] = {
                "source": [CHANGES_SOURCE],
                "detail-type": consented,
                "detail": {"for_purposes": [self.purpose]},
            }
        if "profile.deleted" in self.events:
            rules["erasures"] = {"source": [CHANGES_SOURCE], "detail-type": ["profile.deleted"]}
        return rules


class DeploymentConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{0,19}$")
    event_retention_days: int = Field(default=EVENT_RETENTION_DAYS, ge=1, le=3650)
    # How long events stay in the events table (DynamoDB TTL), for timelines, the console and
    # unmerges; the lake keeps them for `event_retention_days`. At most `event_retention_days`
    # (a shorter retention given alone shortens it too). Why the default is what it is:
    # `cdp.runtime.settings.EVENT_HOT_DAYS`.
    event_hot_days: int = Field(default=EVENT_HOT_DAYS, ge=1, le=3650)
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    import_retention_days: int = Field(default=30, ge=1, le=365)
    # The console's audit log: who viewed, exported or erased whose data.
    audit_retention_days: int = Field(default=400, ge=30, le=3650)
    # Store only events that carry analytics consent (see README, "Consent").
    consent_required: bool = False
    # The consent purposes people are asked for.
    purposes: list[str] = Field(
        default_factory=lambda: ["analytics", "personalization", "marketing", "sharing"]
    )
    allowed_origins: list[str] = Field(default_factory=lambda: ["*"])
    log_retention_days: Literal[7, 14, 30, 60, 90, 180, 365] = 30
    # Identity limits per profile (a profile always holds at most one user_id).
    max_anonymous_ids: int = Field(default=100, ge=1, le=1000)
    max_emails: int = Field(default=5, ge=1, le=100)
    max_external_ids: int = Field(default=25, ge=1, le=100)
    # Identifier values that are placeholders besides the defaults ("undefined", "null",
    # "0", ...): a value for every type, or `type:value` for one type.
    identity_blocklist: list[str] = Field(default_factory=list, max_length=1000)
    destinations: list[Destination] = Field(default_factory=list)
    # Where alarms are e-mailed (an SNS subscription to confirm); none: only the topic.
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # An optional custom domain for the API, with an ACM certificate in the stack's region.
    domain_name: str | None = None
    certificate_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:acm:")
    # The data lake's Athena workgroup cancels a query once it has scanned this much (Athena
    # bills $5 per TB scanned, at least 10 MB per query): 10 GB is at most $0.05 a query.
    lake_query_scan_limit_mb: int = Field(default=10 * 1024, ge=10)
    # API Gateway's steady rate and burst for the whole API, per second.
    throttle_rate: int = Field(default=1000, ge=1)
    throttle_burst: int = Field(default=2000, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _hot_default(cls, data: Any) -> Any:
        return hot_window_default(data)

    @model_validator(mode="after")
    def _hot_window(self) -> DeploymentConfig:
        problem = hot_window_problem(self.event_hot_days, self.event_retention_days)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _domain(self) -> DeploymentConfig:
        if (self.domain_name is None) != (self.certificate_arn is None):
            raise ValueError("a custom domain needs both domain_name and certificate_arn")
        return self

    @property
    def protected(self) -> bool:
        """Tables of every stage but `dev` are protected from deletion."""
        return self.stage != "dev"

    def function_settings(self) -> dict[str, str | int | bool]:
        """Values for the functions' settings that come from configuration, by setting name."""
        return {
            "event_retention_days": self.event_retention_days,
            "event_hot_days": self.event_hot_days,
            "quarantine_retention_days": self.quarantine_retention_days,
            "allowed_origins": ",".join(self.allowed_origins),
            "profile_retention_days": self.profile_retention_days,
            "audit_retention_days": self.audit_retention_days,
            "consent_required": self.consent_required,
            "purposes": ",".join(self.purposes),
            "erasure_sweep_delay_seconds": 300,
            "suppression_cache_seconds": 60,
            "key_cache_seconds": 60,
            "lake_settle_seconds": 360,
            "max_anonymous_ids": self.max_anonymous_ids,
            "max_emails": self.max_emails,
            "max_external_ids": self.max_external_ids,
            "identity_blocklist": json.dumps(self.identity_blocklist),
            # Each connector reaches its tool's own address (tests and cdp dev may say others).
            "connector_endpoints": "{}",
        }
