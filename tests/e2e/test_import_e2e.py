"""`cdp import` of a CRM export into `cdp dev`: interrupted with Ctrl-C part way, resumed by
running the same command again; every good row stored exactly once, every bad row in the
rejected-rows file with its reason.

`make test` imports 10,000 rows (CDP_IMPORT_ROWS); `make soak` 100,000."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cdp.runtime import tables
from cdp.runtime.codec import decompress
from tests.e2e.conftest import ROOT, SECRET_KEY, DevStack
from workbench.local.aws import table_name

pytestmark = pytest.mark.e2e

ROWS = int(os.environ.get("CDP_IMPORT_ROWS", "10000"))
INTERRUPTED_AFTER = ROWS * 3 // 10
# Rows that cannot be imported, and why (the three sets do not overlap; of 100,000 rows: 20, 12
# and 10; of 10,000: 2, 1 and 1).
BAD_EMAIL = set(range(5_000, ROWS + 1, 5_000))
NO_IDENTITY = set(range(7_919, ROWS + 1, 7_919))
BAD_CONSENT = set(range(9_973, ROWS + 1, 9_973))
REJECTED = BAD_EMAIL | NO_IDENTITY | BAD_CONSENT
IMPORT = (
    "import", "{file}", "--source", "crm",
    "--id", "user_id=customer_id", "--id", "email",
    "--trait", "first_name", "--trait", "plan", "--trait", "lifetime_value=ltv",
    "--consent", "marketing=newsletter",
)  # fmt: skip


def crm_export(path: Path) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["customer_id", "email", "first_name", "plan", "ltv", "newsletter"])
        for n in range(1, ROWS + 1):
            writer.writerow(
                [
                    "" if n in NO_IDENTITY else f"c-{n}",
                    "broken address" if n in BAD_EMAIL else "" if n in NO_IDENTITY
                    else f"person{n}@example.com",
                    f"Name{n}",
                    ("free", "pro")[n % 2],
                    f"{n % 1000}.50",
                    "maybe" if n in BAD_CONSENT else ("yes", "no", "")[n % 3],
                ]
            )  # fmt: skip


def command(stack: DevStack, file: Path) -> tuple[list[str], dict[str, str]]:
    args = [part.format(file=file) for part in IMPORT]
    env = {**os.environ, "CDP_URL": stack.url, "CDP_SECRET_KEY": SECRET_KEY, "CDP_CONFIG": "-"}
    return [sys.executable, "-m", "workbench.cli", *args], env


def stored_count(stack: DevStack) -> int:
    table = stack.dynamodb().describe_table(TableName=table_name(tables.EVENTS))
    count: int = table["Table"]["ItemCount"]
    return count


def test_a_large_import_survives_an_interruption_without_losing_or_doubling_a_row(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    source = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "sources", "create", "crm", "--kind", "crm"],
        cwd=ROOT, env=command(dev_stack, tmp_path)[1], capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert source.returncode == 0, source.stderr
    export = tmp_path / "crm.csv"
    crm_export(export)
    progress = tmp_path / "crm.csv.cdp-progress.json"
    rejects = tmp_path / "crm.csv.rejected.jsonl"

    # a first run, stopped with Ctrl-C part way through
    args, env = command(dev_stack, export)
    first = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # (the deadline only guards against a hang: how fast rows go is `make bench`'s to measure,
    # and a loaded 2-core CI machine has taken more than 120 s for 30,000 rows)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if (
            progress.is_file()
            and json.loads(progress.read_text())["rows_done"] >= INTERRUPTED_AFTER
        ):
            break
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)
    _, said = first.communicate(timeout=60)
    assert first.returncode == 130, said
    assert f"interrupted; run the same command again to resume {export}" in said
    done_before = json.loads(progress.read_text())["rows_done"]
    assert INTERRUPTED_AFTER <= done_before < ROWS

    # the same command again: it picks up where it stopped
    second = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert second.returncode == 0, second.stderr
    summary = dict(
        line.split(maxsplit=1) for line in second.stdout.splitlines() if line[:1].isalpha()
    )
    assert summary["rows"] == f"read      {ROWS:,}"
    rejected_before = len([row for row in REJECTED if row <= done_before])
    assert summary["already"] == f"sent   {done_before - rejected_before:,} (an earlier run)"
    assert summary["rejected"].startswith(f"{len(REJECTED)}  -> {rejects}")
    assert f"  {len(BAD_EMAIL)}  email: ... is not an e-mail address" in second.stdout
    assert not progress.exists()  # finished: nothing left to resume

    # every good row is stored once: rows resent after the interruption overwrote themselves
    assert stored_count(dev_stack) == ROWS - len(REJECTED)
    # and every bad row is in the rejected-rows file once, with its reason
    refused = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert sorted(r["row"] for r in refused) == sorted(REJECTED)
    reasons = {r["row"]: r["reason"] for r in refused}
    assert reasons[5_000] == "email: 'broken address' is not an e-mail address"
    assert reasons[7_919] == "no user id, anonymous id or e-mail address in this row"
    assert reasons[9_973] == "newsletter: 'maybe' is not a yes or no"

    # an imported person: traits with the imported provenance, consent from its column
    [item] = dev_stack.dynamodb().query(
        TableName=table_name(tables.EVENTS),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "user_id:c-4242"}},
    )["Items"]
    message: dict[str, Any] = decompress(item["body"]["B"])
    assert item["source"]["S"] == "crm"
    assert message["traits"] == {
        "first_name": "Name4242",
        "plan": "free",
        "lifetime_value": 242.5,
        "email": "person4242@example.com",
    }
    assert message["context"]["cdp"] == {"provenance": "imported"}
    assert message["context"]["consent"] == {"categoryPreferences": {"marketing": True}}
