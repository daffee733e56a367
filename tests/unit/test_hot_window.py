"""The hot window (`event_hot_days`): at most the retention, shortened with it when not given,
and what a timeline says of the events before it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from cdp.profiles.timeline import HotWindow
from cdp.runtime.settings import EVENT_HOT_DAYS
from cdp.runtime.settings.collector import CollectorSettings
from cdp.runtime.settings.profile_api import ProfileApiSettings
from infra.config import DeploymentConfig

TABLES = {
    "EVENTS_TABLE": "e",
    "QUARANTINE_TABLE": "q",
    "KEYS_TABLE": "k",
    "SUPPRESSIONS_TABLE": "s",
    "SUPPRESSION_PEPPER_NAME": "p",
    "LIVE_TABLE": "l",
}


def test_the_hot_window_is_shorter_than_the_retention_by_default() -> None:
    config = DeploymentConfig()
    assert 1 <= config.event_hot_days == EVENT_HOT_DAYS < config.event_retention_days
    assert config.function_settings()["event_hot_days"] == EVENT_HOT_DAYS
    assert CollectorSettings.from_env(TABLES).event_hot_days == EVENT_HOT_DAYS


def test_a_shorter_retention_given_alone_shortens_the_default_window() -> None:
    assert DeploymentConfig(event_retention_days=7).event_hot_days == 7
    settings = CollectorSettings.from_env({**TABLES, "EVENT_RETENTION_DAYS": "7"})
    assert (settings.event_hot_days, settings.event_retention_days) == (7, 7)


def test_a_hot_window_longer_than_the_retention_is_refused_with_both_numbers() -> None:
    with pytest.raises(ValidationError, match=r"event_hot_days \(400\) must be at most "):
        DeploymentConfig(event_hot_days=400)
    with pytest.raises(ValidationError, match=r"event_retention_days \(30\)"):
        CollectorSettings.from_env({**TABLES, "EVENT_HOT_DAYS": "31", "EVENT_RETENTION_DAYS": "30"})
    with pytest.raises(ValidationError, match="event_hot_days"):
        DeploymentConfig(event_hot_days=0)
    assert DeploymentConfig(event_hot_days=395).event_hot_days == 395


def test_the_profile_api_knows_both_windows() -> None:
    assert {"EVENT_HOT_DAYS", "EVENT_RETENTION_DAYS"} <= ProfileApiSettings.env_names()


NOW = datetime(2026, 11, 28, 14, 30, 5, 250000, tzinfo=UTC)


def test_events_before_the_hot_window_are_said_to_be_in_the_lake() -> None:
    older = HotWindow(days=30, retention_days=395).older_events(
        ["user_id:42", "email:o'neil@example.com"], NOW
    )
    assert older == {
        "before": "2026-10-29T14:30:05.250Z",
        "table": "events",
        "sql": "select * from events where identity in ('email:o''neil@example.com', "
        "'user_id:42') and received_at < timestamp '2026-10-29 14:30:05' "
        "order by timestamp desc",
    }


def test_with_the_whole_retention_hot_nothing_is_elsewhere() -> None:
    assert HotWindow(days=395, retention_days=395).older_events(["user_id:42"], NOW) is None
