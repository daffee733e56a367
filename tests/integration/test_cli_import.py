"""`cdp import` against the collector's handler (in process, on moto): an interrupted import
resumes, and its summary accounts for every row once."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdp.intake.importing import ImportMapping
from tests.factories import answer_json, http_event
from tests.integration.conftest import WRITE_KEY, stored_events
from workbench.cli.client import Api, Target
from workbench.cli.importer import run_import

Handler = Callable[[dict[str, Any]], dict[str, Any]]
ROWS = 300
BAD = set(range(7, ROWS + 1, 7))  # no identity at all: rejected before sending


class HandlerApi(Api):
    """The CLI's client, answered by the collector's Lambda handler instead of over HTTP."""

    def __init__(self, collector: Handler) -> None:
        super().__init__(Target("https://api.example", "sk_unused"))
        self.collector = collector

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        answer = self.collector(http_event(method, path, body=body, headers=headers))
        return answer["statusCode"], answer_json(answer)


def export(path: Path) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["customer_id", "plan"])
        for n in range(1, ROWS + 1):
            writer.writerow(["" if n in BAD else f"c-{n}", "pro"])


def test_a_resumed_import_accounts_for_every_row_once(
    collector: Handler, tmp_path: Path, dynamodb: Any, table_names: dict[str, str]
) -> None:
    file = tmp_path / "crm.csv"
    export(file)
    mapping = ImportMapping(identities={"user_id": "customer_id"}, traits={"plan": "plan"})
    api = HandlerApi(collector)

    def run(**options: Any) -> Any:
        return run_import(
            api, file, source="website", mapping=mapping, write_key=WRITE_KEY, batch_size=50,
            **options,
        )  # fmt: skip

    # a first run, interrupted after about half the file
    with pytest.raises(KeyboardInterrupt):
        run(stop_after=160)
    done = json.loads((tmp_path / "crm.csv.cdp-progress.json").read_text())["rows_done"]
    assert 0 < done < ROWS

    # the same import again: every row is read once, and each ends up in one count
    summary = run()
    rejected = sum(summary.rejected.values())
    assert summary.read == ROWS
    assert summary.sent + summary.skipped + rejected == ROWS
    assert rejected == len(BAD)
    assert summary.skipped == done - len([n for n in BAD if n <= done])
    assert len(stored_events(dynamodb, table_names["EVENTS_TABLE"])) == ROWS - len(BAD)
