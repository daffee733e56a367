"""The settings of the `profile_api` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import EventWindowSettings


class ProfileApiSettings(EventWindowSettings):
    # The timeline says where events older than the hot window are (the lake).
    events_table: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    keys_table: str = Field(min_length=1)
