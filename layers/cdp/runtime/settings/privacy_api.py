"""The settings of the `privacy_api` function (the shared parts: `cdp.runtime.settings`)."""

from typing import Self

from pydantic import Field, model_validator

from cdp.runtime.settings import ErasedPeopleSettings, EventWindowSettings


class PrivacyApiSettings(EventWindowSettings, ErasedPeopleSettings):
    # An export holds the events older than the hot window too, read from the lake (none
    # when no lake is given: the export then says where they are).
    lake_warehouse: str | None = None
    lake_database: str = Field(default="cdp", min_length=1)
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    erasure_queue_url: str = Field(min_length=1)
    computed_backfill_queue_url: str = Field(min_length=1)  # an unmerge's computed pasts
    # How long after an erasure the sweep runs: longer than collectors take to learn of it.
    erasure_sweep_delay_seconds: int = Field(default=300, ge=0, le=900)
    # Unmerges write the profiles they split apart.
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    audit_table: str = Field(min_length=1)
    audit_retention_days: int = Field(default=400, ge=30, le=3650)

    @model_validator(mode="after")
    def _sweep_after_the_caches(self) -> Self:
        cache, delay = self.suppression_cache_seconds, self.erasure_sweep_delay_seconds
        if cache and delay <= cache:
            raise ValueError(
                f"erasure_sweep_delay_seconds ({delay}) must be more than "
                f"suppression_cache_seconds ({cache}): the sweep erases what arrived while "
                "functions still trusted their cached check"
            )
        return self
