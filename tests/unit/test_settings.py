from __future__ import annotations

import pytest
from pydantic import ValidationError

from cdp.runtime.settings import CollectorSettings

TABLES = {
    "EVENTS_TABLE": "e",
    "QUARANTINE_TABLE": "q",
    "KEYS_TABLE": "k",
    "SUPPRESSIONS_TABLE": "s",
    "SUPPRESSION_PEPPER_NAME": "p",
    "LIVE_TABLE": "l",
}


def test_settings_come_from_the_environment() -> None:
    settings = CollectorSettings.from_env(
        {
            **TABLES,
            "ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "EVENT_RETENTION_DAYS": "30",
        }
    )
    assert settings.events_table == "e"
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.event_retention_days == 30
    assert settings.quarantine_retention_days == 30


def test_table_names_have_no_defaults() -> None:
    with pytest.raises(ValidationError, match="events_table"):
        CollectorSettings.from_env({k: v for k, v in TABLES.items() if k != "EVENTS_TABLE"})


def test_env_names_are_the_upper_case_field_names() -> None:
    assert CollectorSettings.env_names() == {
        *TABLES,
        "EVENT_RETENTION_DAYS",
        "EVENT_HOT_DAYS",
        "QUARANTINE_RETENTION_DAYS",
        "ALLOWED_ORIGINS",
        "CONSENT_REQUIRED",
        "IDENTITY_BLOCKLIST",
        "KEY_CACHE_SECONDS",
    }


def test_the_identity_blocklist_is_a_json_list() -> None:
    settings = CollectorSettings.from_env(
        {**TABLES, "IDENTITY_BLOCKLIST": '["guest-user", "email:info@shop.example"]'}
    )
    assert settings.identity_blocklist == ["guest-user", "email:info@shop.example"]
    assert CollectorSettings.from_env(TABLES).identity_blocklist == []
