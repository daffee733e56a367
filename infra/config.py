"""Deployment configuration, read from the `cdp` key of the CDK context (`cdk.json`, or
`-c cdp='{...}'` on the command line). Every field is documented in the README."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DeploymentConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{0,19}$")
    event_retention_days: int = Field(default=395, ge=1, le=3650)
    quarantine_retention_days: int = Field(default=30, ge=1, le=365)
    allowed_origins: list[str] = Field(default_factory=lambda: ["*"])
    log_retention_days: Literal[7, 14, 30, 60, 90, 180, 365] = 30
    # Identity limits per profile (a profile always holds at most one user_id).
    max_anonymous_ids: int = Field(default=100, ge=1, le=1000)
    max_emails: int = Field(default=5, ge=1, le=100)
    max_external_ids: int = Field(default=25, ge=1, le=100)
    # API Gateway's steady rate and burst for the whole API, per second.
    throttle_rate: int = Field(default=1000, ge=1)
    throttle_burst: int = Field(default=2000, ge=1)

    @property
    def protected(self) -> bool:
        """Tables of every stage but `dev` are protected from deletion."""
        return self.stage != "dev"

    def function_settings(self) -> dict[str, Any]:
        """Values for the functions' settings that come from configuration, by setting name."""
        return {
            "event_retention_days": self.event_retention_days,
            "quarantine_retention_days": self.quarantine_retention_days,
            "allowed_origins": ",".join(self.allowed_origins),
            "max_anonymous_ids": self.max_anonymous_ids,
            "max_emails": self.max_emails,
            "max_external_ids": self.max_external_ids,
        }
