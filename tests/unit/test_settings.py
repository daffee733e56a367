from __future__ import annotations

from collections import defaultdict

import pytest
from pydantic import ValidationError

from cdp.runtime.settings.collector import CollectorSettings
from cdp.runtime.settings.privacy_api import PrivacyApiSettings

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
        "SUPPRESSION_CACHE_SECONDS",
    }


def test_the_identity_blocklist_is_a_json_list() -> None:
    settings = CollectorSettings.from_env(
        {**TABLES, "IDENTITY_BLOCKLIST": '["guest-user", "email:info@shop.example"]'}
    )
    assert settings.identity_blocklist == ["guest-user", "email:info@shop.example"]
    assert CollectorSettings.from_env(TABLES).identity_blocklist == []


PRIVACY_API = {
    **{name: "x" for name in PrivacyApiSettings.env_names() if name.endswith(("_TABLE", "_URL"))},
    "SUPPRESSION_PEPPER_NAME": "p",
}


@pytest.mark.parametrize(("cache", "delay"), [("60", "60"), ("60", "30"), ("5", "0"), ("1", "1")])
def test_the_erasure_sweep_waits_longer_than_functions_trust_their_check(
    cache: str, delay: str
) -> None:
    # (the sweep erases what arrived while a warm function still had a cached answer)
    times = {"SUPPRESSION_CACHE_SECONDS": cache, "ERASURE_SWEEP_DELAY_SECONDS": delay}
    with pytest.raises(ValidationError, match="must be more than suppression_cache_seconds"):
        PrivacyApiSettings.from_env({**PRIVACY_API, **times})


def test_without_a_cached_check_the_sweep_may_run_at_once() -> None:
    times = {"SUPPRESSION_CACHE_SECONDS": "0", "ERASURE_SWEEP_DELAY_SECONDS": "0"}
    assert PrivacyApiSettings.from_env({**PRIVACY_API, **times}).erasure_sweep_delay_seconds == 0


def test_the_deployed_and_local_sweeps_wait_long_enough() -> None:
    from infra.config import DeploymentConfig
    from workbench.local.dev import DevOptions, dev_environment

    deployed = DeploymentConfig().function_settings()
    settings = PrivacyApiSettings.from_env(
        {**PRIVACY_API, **{name.upper(): str(value) for name, value in deployed.items()}}
    )
    assert (settings.suppression_cache_seconds, settings.erasure_sweep_delay_seconds) == (60, 300)
    local = dev_environment(DevOptions(), defaultdict(lambda: "x"))  # any resource's name
    settings = PrivacyApiSettings.from_env({**PRIVACY_API, **local})
    assert (settings.suppression_cache_seconds, settings.erasure_sweep_delay_seconds) == (5, 10)
