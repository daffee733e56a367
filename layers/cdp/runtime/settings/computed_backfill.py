"""The settings of the `computed_backfill` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import LakeSettings


class ComputedBackfillSettings(LakeSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    computed_backfill_queue_url: str = Field(min_length=1)
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    # How long after a definition counts from its backfill waits, for the lake's writer to
    # commit every event received before (its batching window, and a retry).
    lake_settle_seconds: int = Field(default=360, ge=0, le=3600)
