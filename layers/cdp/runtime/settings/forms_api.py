"""The settings of the `forms_api` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import (
    Blocklist,
    ErasedPeopleSettings,
    EventWindowSettings,
    Origins,
    Purposes,
)


class FormsApiSettings(EventWindowSettings, ErasedPeopleSettings):
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    identity_secret_name: str = Field(min_length=1)
    purposes: Purposes = Field(
        default_factory=lambda: ["analytics", "personalization", "marketing", "sharing"]
    )
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    allowed_origins: Origins = Field(default_factory=lambda: ["*"])
    identity_blocklist: Blocklist = Field(default_factory=list)
