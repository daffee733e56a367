"""The settings of the `segment_backfill` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import FunctionSettings


class SegmentBackfillSettings(FunctionSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    backfill_queue_url: str = Field(min_length=1)
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
