"""The settings of the `profile_builder` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import ErasedPeopleSettings


class ProfileBuilderSettings(ErasedPeopleSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    deliveries_queue_url: str = Field(min_length=1)  # the track events destinations receive
    # Profiles with no sign of life for this long are deleted (DynamoDB TTL).
    profile_retention_days: int = Field(default=730, ge=1, le=3650)
    # How many identities of a type one profile may hold (a user_id: always one).
    max_anonymous_ids: int = Field(default=100, ge=1, le=1000)
    max_emails: int = Field(default=5, ge=1, le=100)
    max_external_ids: int = Field(default=25, ge=1, le=100)
