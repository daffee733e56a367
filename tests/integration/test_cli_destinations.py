"""`cdp destinations` over HTTP against the admin API behind the local gateway (`cdp dev`'s, on
moto): apply shows a diff and sends the secret from the variable the file names (never
printing it), a second run changes nothing, pause and resume, and what was sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.conftest import SECRET_KEY
from workbench.cli import main

HOOK = {
    "id": "crm-hook",
    "name": "Our CRM's webhook",
    "connector": "webhook",
    "purpose": "marketing",
    "settings": {"url": "https://hooks.example.com/hooks/cdp"},
    "traits": {"plan": "plan"},
    "secret_env": "CRM_HOOK_SECRET",
}


def cli(url: str, *arguments: str) -> int:
    return main(["destinations", *arguments, "--url", url, "--secret-key", SECRET_KEY])


def printed_json(capsys: pytest.CaptureFixture[str]) -> Any:
    """What the command printed, without the metrics the handler (in this process) prints."""
    lines = capsys.readouterr().out.splitlines()
    return json.loads("\n".join(line for line in lines if not line.startswith('{"_aws"')))


def test_destinations_are_applied_from_files_with_their_secret_from_the_environment(
    admin_api_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = tmp_path / "destinations.json"
    file.write_text(json.dumps([HOOK]))
    monkeypatch.delenv("CRM_HOOK_SECRET", raising=False)
    # without the variable, nothing is changed and the reason is given
    assert cli(admin_api_url, "apply", str(file)) == 1
    assert "CRM_HOOK_SECRET" in capsys.readouterr().err

    monkeypatch.setenv("CRM_HOOK_SECRET", "whsec-from-the-environment")
    assert cli(admin_api_url, "apply", str(file)) == 0
    out = capsys.readouterr().out
    assert "+ destination crm-hook" in out
    assert "whsec-from-the-environment" not in out
    secrets = boto3.client("secretsmanager")
    names = [
        s["Name"] for s in secrets.list_secrets()["SecretList"] if s["Name"].endswith("crm-hook")
    ]
    [name] = names
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "whsec-from-the-environment"

    # a second run changes nothing
    assert cli(admin_api_url, "apply", str(file)) == 0
    assert "= destination crm-hook: unchanged" in capsys.readouterr().out

    # a trait mapping taken out of the file is a change
    file.write_text(json.dumps([{**HOOK, "traits": {}}]))
    assert cli(admin_api_url, "apply", str(file), "--dry-run") == 0
    assert "~ destination crm-hook" in capsys.readouterr().out

    # paused, then listed as such; resumed
    assert cli(admin_api_url, "pause", "crm-hook") == 0
    assert cli(admin_api_url, "list", "--json") == 0
    capsys.readouterr()
    assert cli(admin_api_url, "list", "--json") == 0
    [listed] = printed_json(capsys)
    assert listed["enabled"] is False
    assert listed["has_secret"] is True
    assert cli(admin_api_url, "resume", "crm-hook") == 0

    # what it was sent: nothing yet, every day shown
    assert cli(admin_api_url, "deliveries", "crm-hook", "--days", "3", "--json") == 0
    figures = printed_json(capsys)
    assert len(figures["days"]) == 3
    assert figures["totals"] == {"delivered": 0, "retried": 0, "failed": 0, "skipped": 0}
