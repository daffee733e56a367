"""`cdp segments members` over HTTP against the admin API's handler behind the local gateway
(`cdp dev`'s, on moto): every page followed, one CSV with one header row, progress on stderr."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration import test_segment_members
from tests.integration.conftest import SECRET_KEY
from tests.integration.test_segment_members import PEOPLE
from workbench.cli import main
from workbench.cli import members as members_command

Handler = Callable[[dict[str, Any]], dict[str, Any]]
pros = test_segment_members.pros  # five people on the pro plan, with their identifiers


def cli(admin_api_url: str, *arguments: str) -> int:
    return main(
        ["segments", "members", *arguments, "--url", admin_api_url, "--secret-key", SECRET_KEY]
    )


def test_every_page_goes_into_one_csv_file_with_progress_on_stderr(
    pros: None,
    admin_api_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a log that shows progress every second page
    monkeypatch.setattr(members_command, "PROGRESS_EVERY", 2)
    file = tmp_path / "pros.csv"

    # when the members are exported one a request
    code = cli(
        admin_api_url, "pros", "--identifiers", "email,user_id", "--csv", str(file), "--limit", "1"
    )

    # then the file holds the header once and every member once, with their identifiers
    assert code == 0
    with file.open(newline="", encoding="utf-8") as opened:
        header, *rows = list(csv.reader(opened))
    assert header == ["profile_id", "entered_at", "email", "user_id"]
    assert sorted(row[3] for row in rows) == [f"u{n}" for n in range(PEOPLE)]
    assert len({row[0] for row in rows}) == PEOPLE
    assert file.read_bytes().count(b"\r\n") == 1 + PEOPLE
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "2 members so far…",
        "4 members so far…",
        f"{PEOPLE} members of pros written to {file}",
    ]


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What the command printed on stdout (the handler, in this process, prints its metrics)."""
    return [line for line in capsys.readouterr().out.splitlines() if '"_aws"' not in line]


def test_to_stdout_and_as_json_lines(
    pros: None, admin_api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(admin_api_url, "pros") == 0
    out = printed(capsys)
    assert out[0] == "profile_id,entered_at"
    assert len(out) == 1 + PEOPLE

    assert cli(admin_api_url, "pros", "--identifiers", "phone", "--json", "--limit", "2") == 0
    members = [json.loads(line) for line in printed(capsys)]
    assert len(members) == PEOPLE
    assert all(m["identifiers"]["phone"][0].startswith("+31 6") for m in members)


def test_a_refusal_is_the_api_s_own_message(
    pros: None, admin_api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(admin_api_url, "pros", "--identifiers", "E-mail") == 1
    assert capsys.readouterr().err.startswith(
        "cdp: GET /v1/segments/pros/members.csv: 400 identifiers: 'E-mail' is not an identity type"
    )
    assert cli(admin_api_url, "nobody") == 1
    assert "404 no segment is called nobody" in capsys.readouterr().err
