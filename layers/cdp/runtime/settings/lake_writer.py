"""The settings of the `lake_writer` function (the shared parts: `cdp.runtime.settings`)."""

from cdp.runtime.settings import ErasedPeopleSettings, LakeSettings


class LakeWriterSettings(LakeSettings, ErasedPeopleSettings):
    """Events of erased people are left out."""
