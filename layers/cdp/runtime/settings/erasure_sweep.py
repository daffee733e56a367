"""The settings of the `erasure_sweep` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import FunctionSettings


class ErasureSweepSettings(FunctionSettings):
    events_table: str = Field(min_length=1)
    lake_erasures_queue_url: str = Field(min_length=1)  # the erasure, on to the lake
    quarantine_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    # Other people's profiles that named the person are rewritten, with their retention.
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
