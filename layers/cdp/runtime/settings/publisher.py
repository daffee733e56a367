"""The settings of the `publisher` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import FunctionSettings


class PublisherSettings(FunctionSettings):
    members_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    event_bus_name: str = Field(min_length=1)
    deliveries_queue_url: str = Field(min_length=1)
