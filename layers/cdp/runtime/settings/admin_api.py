"""The settings of the `admin_api` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import FunctionSettings, Purposes


class AdminApiSettings(FunctionSettings):
    # Each page of a segment's members given with identifiers whole is written down.
    audit_table: str = Field(min_length=1)
    audit_retention_days: int = Field(default=400, ge=30, le=3650)
    config_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    members_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    live_table: str = Field(min_length=1)
    deliveries_table: str = Field(min_length=1)
    backfill_queue_url: str = Field(min_length=1)
    computed_backfill_queue_url: str = Field(min_length=1)
    lake_settle_seconds: int = Field(default=360, ge=0, le=3600)  # see ComputedBackfillSettings
    destination_secret_prefix: str = Field(min_length=1)
    deliveries_queue_url: str = Field(min_length=1)  # a resync's first pages
    # Where each destination's alarms go (the stack's alarm topic, set once it exists);
    # `cdp dev` and the tests make no alarms.
    alarm_topic_arn: str | None = Field(default=None, min_length=1)
    purposes: Purposes = Field(
        default_factory=lambda: ["analytics", "personalization", "marketing", "sharing"]
    )
