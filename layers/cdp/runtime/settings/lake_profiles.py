"""The settings of the `lake_profiles` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import LakeSettings


class LakeProfilesSettings(LakeSettings):
    config_table: str = Field(min_length=1)  # computed traits' definitions
