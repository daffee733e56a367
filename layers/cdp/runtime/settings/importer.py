"""The settings of the `importer` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import Blocklist, ErasedPeopleSettings, EventWindowSettings


class ImporterSettings(EventWindowSettings, ErasedPeopleSettings):
    consent_required: bool = False
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    import_bucket: str = Field(min_length=1)
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    identity_blocklist: Blocklist = Field(default_factory=list)
