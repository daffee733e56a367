"""The settings of the `lake_upkeep` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import EVENT_RETENTION_DAYS, LakeSettings


class LakeUpkeepSettings(LakeSettings):
    # Events older than this leave the lake (whole days); the events table keeps them for
    # the hot window only (`event_hot_days`, DynamoDB TTL).
    event_retention_days: int = Field(default=EVENT_RETENTION_DAYS, ge=1, le=3650)
