"""The settings of the `deliverer` function (the shared parts: `cdp.runtime.settings`)."""

import json
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from cdp.runtime.settings import FunctionSettings


def _json_object(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return value


class DelivererSettings(FunctionSettings):
    config_table: str = Field(min_length=1)
    deliveries_table: str = Field(min_length=1)
    members_table: str = Field(min_length=1)  # a resync reads the members of a segment
    profiles_table: str = Field(min_length=1)  # ... and their profiles
    deliveries_queue_url: str = Field(min_length=1)
    destination_secret_prefix: str = Field(min_length=1)
    # connector -> the address that replaces the tool's own: the contract servers in tests
    # and `cdp dev`'s sandboxes; empty in AWS.
    connector_endpoints: Annotated[dict[str, str], BeforeValidator(_json_object)] = Field(
        default_factory=dict
    )
