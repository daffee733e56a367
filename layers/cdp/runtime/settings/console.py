"""The settings of the `console` function (the shared parts: `cdp.runtime.settings`)."""

from pydantic import Field

from cdp.runtime.settings import FunctionSettings, Purposes


class ConsoleSettings(FunctionSettings):
    profiles_table: str = Field(min_length=1)
    identities_table: str = Field(min_length=1)
    events_table: str = Field(min_length=1)
    config_table: str = Field(min_length=1)
    audit_table: str = Field(min_length=1)
    # How long the audit log keeps what was done with a person's data.
    audit_retention_days: int = Field(default=400, ge=30, le=3650)
    # Where people sign in: the Hosted UI's address (Cognito's; `cdp dev` plays it), and the
    # page's app client there.
    sign_in_url: str = Field(min_length=1)
    console_client_id: str = Field(min_length=1)
    # The consent purposes the overview shows the rates of.
    purposes: Purposes = Field(
        default_factory=lambda: ["analytics", "personalization", "marketing", "sharing"]
    )
