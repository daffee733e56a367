"""The settings of the `collector` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import Blocklist, ErasedPeopleSettings, EventWindowSettings, Origins


class CollectorSettings(EventWindowSettings, ErasedPeopleSettings):
    events_table: str = Field(min_length=1)
    quarantine_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
    # When true, only messages carrying analytics consent are stored (see README).
    consent_required: bool = False
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    # Origins allowed to call the collector from a browser; `*` allows every site.
    allowed_origins: Origins = Field(default_factory=lambda: ["*"])
    identity_blocklist: Blocklist = Field(default_factory=list)
    live_table: str = Field(min_length=1)
    # How long a warm collector keeps a key it read: a disabled key, or a source someone
    # starts watching, takes this long to reach it.
    key_cache_seconds: int = Field(default=60, ge=0, le=3600)
