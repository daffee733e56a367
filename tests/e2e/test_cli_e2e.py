"""The `cdp` command line against `cdp dev`, run as a person runs it: a separate process,
configured by the environment, reading its tables and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ROOT, SECRET_KEY, WRITE_KEY, DevStack

pytestmark = pytest.mark.e2e


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cdp(stack: DevStack, *args: str, secret_key: str = SECRET_KEY, cwd: Path = ROOT) -> Ran:
    env = {
        **os.environ,
        "CDP_URL": stack.url,
        "CDP_SECRET_KEY": secret_key,
        "CDP_CONFIG": str(cwd / "no-such-config.json"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def track(stack: DevStack, body: dict[str, Any], key: str = WRITE_KEY) -> int:
    answer = requests.post(f"{stack.url}/v1/track", json=body, auth=(key, ""), timeout=10)
    return answer.status_code


# -- sources ----------------------------------------------------------------------------


def test_sources_are_created_listed_rotated_and_disabled(dev_stack: DevStack) -> None:
    name = f"crm-{uuid.uuid4().hex[:6]}"

    created = cdp(dev_stack, "sources", "create", name, "--kind", "crm")
    assert created.code == 0, created.err
    key = created.out.strip()
    assert key.startswith("wk_")
    assert "shown this once" in created.err
    assert track(dev_stack, {"userId": "u-1", "event": "Tested"}, key) == 200

    listed = cdp(dev_stack, "sources", "list")
    assert listed.code == 0
    [line] = [line for line in listed.out.splitlines() if line.startswith(name)]
    assert "crm" in line
    assert "(active)" in line

    rotated = cdp(dev_stack, "sources", "rotate", name, "--overlap-hours", "1", "--json")
    assert rotated.code == 0, rotated.err
    answer = rotated.json()
    assert [k["state"] for k in answer["source"]["keys"]] == ["expiring", "active"]
    assert track(dev_stack, {"userId": "u-1", "event": "Tested"}, key) == 200  # the overlap
    assert track(dev_stack, {"userId": "u-1", "event": "Tested"}, answer["write_key"]) == 200

    disabled = cdp(dev_stack, "sources", "disable", name)
    assert disabled.code == 0
    assert "(disabled)" in disabled.out

    again = cdp(dev_stack, "sources", "create", name)
    assert again.code == 1
    assert again.err.startswith(f"cdp: POST /v1/sources: 409 a source called {name} exists")


def test_the_printed_dev_keys_keep_working_beside_sources(dev_stack: DevStack) -> None:
    cdp(dev_stack, "sources", "create", f"app-{uuid.uuid4().hex[:6]}", "--kind", "app")

    assert track(dev_stack, {"userId": "u-dev", "event": "Still Works"}) == 200
    assert cdp(dev_stack, "sources", "list").code == 0  # the printed secret key


# -- profiles ---------------------------------------------------------------------------


def wait_for_profile(stack: DevStack, identity: str, events: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ran = cdp(stack, "profiles", "get", identity, "--json")
        if ran.code == 0 and ran.json()["event_count"] >= events:
            found: dict[str, Any] = ran.json()
            return found
        time.sleep(0.3)
    raise AssertionError(f"no profile for {identity} with {events} events")


def test_a_person_is_looked_up_exported_and_erased(dev_stack: DevStack, tmp_path: Path) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    for number in range(3):
        body = {"userId": user, "event": "Order Completed", "properties": {"revenue": 10 + number}}
        assert track(dev_stack, body) == 200
    wait_for_profile(dev_stack, f"user_id:{user}", 3)

    shown = cdp(dev_stack, "profiles", "get", f"user_id:{user}")
    assert shown.code == 0, shown.err
    assert f"user_id:{user}" in shown.out
    assert "orders_30d" in shown.out
    timeline = cdp(dev_stack, "profiles", "events", f"user_id:{user}", "--limit", "2", "--all")
    assert timeline.out.count("Order Completed") == 3

    exported = cdp(dev_stack, "profiles", "export", f"user_id:{user}", "-o", str(tmp_path / "x"))
    assert exported.code == 0
    assert len(json.loads((tmp_path / "x").read_text())["events"]) == 3

    unsure = cdp(dev_stack, "profiles", "delete", f"user_id:{user}")
    assert unsure.code == 2
    assert "--yes" in unsure.err
    erased = cdp(dev_stack, "profiles", "delete", f"user_id:{user}", "--yes", "--json")
    assert erased.code == 0, erased.err
    assert erased.json()["erased"]["events"] == 3
    gone = cdp(dev_stack, "profiles", "get", f"user_id:{user}")
    assert gone.code == 1
    assert "no profile has the identity" in gone.err
    # cdp dev's request log names the route, as API Gateway's access log does, not the person
    assert "GET /v1/profiles/{identity}/export 200" in dev_stack.output()
    assert user not in dev_stack.output()


def test_a_mistaken_merge_is_undone_from_the_command_line(dev_stack: DevStack) -> None:
    user, laptop = f"user-{uuid.uuid4().hex[:8]}", f"laptop-{uuid.uuid4().hex[:8]}"
    assert track(dev_stack, {"anonymousId": laptop, "event": "Order Completed"}) == 200
    wait_for_profile(dev_stack, f"anonymous_id:{laptop}", 1)
    assert track(dev_stack, {"userId": user, "anonymousId": laptop, "event": "Signed In"}) == 200
    wait_for_profile(dev_stack, f"user_id:{user}", 2)

    usage = cdp(dev_stack, "profiles", "unmerge", f"user_id:{user}")
    assert usage.code == 2
    split = cdp(
        dev_stack, "profiles", "unmerge", f"user_id:{user}", "--split", f"anonymous_id:{laptop}"
    )
    assert split.code == 0, split.err
    assert f"anonymous_id:{laptop}" in split.out
    person = cdp(dev_stack, "profiles", "get", f"user_id:{user}", "--json").json()
    device = cdp(dev_stack, "profiles", "get", f"anonymous_id:{laptop}", "--json").json()
    assert person["profile_id"] != device["profile_id"]
    assert (person["event_count"], device["event_count"]) == (1, 1)
    assert f"anonymous_id:{laptop}" not in {
        f"{i['type']}:{i['value']}" for i in person["identities"]
    }


# -- configuration as code --------------------------------------------------------------

SEGMENT = """\
    id: big_spenders_{run}
    name: Big spenders
    condition:
      all:
        - computed: revenue
          gte: 100
"""


def test_segments_apply_shows_a_diff_and_the_second_run_changes_nothing(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    path = tmp_path / "segments.yaml"
    path.write_text(textwrap.dedent(SEGMENT).format(run=run))

    dry = cdp(dev_stack, "segments", "apply", str(path), "--dry-run")
    assert dry.code == 0, dry.err
    assert f"+ segment big_spenders_{run}" in dry.out
    assert "1 segment(s) would change" in dry.out
    first = cdp(dev_stack, "segments", "apply", str(path))
    assert "1 segment(s) changed" in first.out
    assert '+  "name": "Big spenders"' in first.out

    second = cdp(dev_stack, "segments", "apply", str(path))
    assert second.code == 0
    assert f"= segment big_spenders_{run}: unchanged" in second.out
    assert "0 segment(s) changed" in second.out

    path.write_text(textwrap.dedent(SEGMENT).format(run=run).replace("100", "250"))
    changed = cdp(dev_stack, "segments", "apply", str(path))
    assert f"~ segment big_spenders_{run}" in changed.out
    assert '-        "gte": 100' in changed.out
    assert '+        "gte": 250' in changed.out
    listed = cdp(dev_stack, "segments", "list", "--json")
    assert f"big_spenders_{run}" in {s["segment"]["id"] for s in listed.json()}


def test_prune_deletes_what_the_files_do_not_name(dev_stack: DevStack, tmp_path: Path) -> None:
    kept, dropped = tmp_path / "kept.json", tmp_path / "dropped.json"
    kept.write_text(json.dumps({"id": "kept_trait", "type": "count", "event": "Kept"}))
    dropped.write_text(json.dumps({"id": "dropped_trait", "type": "count", "event": "Dropped"}))
    assert cdp(dev_stack, "computed", "apply", str(kept), str(dropped)).code == 0

    warned = cdp(dev_stack, "computed", "apply", str(kept))
    assert "dropped_trait: deployed, not in the files (--prune deletes it)" in warned.out
    pruned = cdp(dev_stack, "computed", "apply", str(kept), "--prune")
    assert "- computed trait dropped_trait" in pruned.out

    listed = cdp(dev_stack, "computed", "list", "--json").json()
    assert "kept_trait" in {t["id"] for t in listed}
    assert "dropped_trait" not in {t["id"] for t in listed}
    assert "page_views" not in {t["id"] for t in listed}  # a default, switched off by prune
    assert "0 computed trait(s) changed" in cdp(dev_stack, "computed", "apply", str(kept),
                                                  "--prune").out  # fmt: skip


def test_forms_apply_and_list(dev_stack: DevStack, tmp_path: Path) -> None:
    form = {
        "id": "cli_form",
        "name": "A form applied from the command line",
        "consent_purposes": ["marketing"],
        "consent_text": "We use your answers for offers.",
        "fields": [{"trait": "pets", "label": "Pets?", "type": "boolean", "purpose": "Offers"}],
    }
    path = tmp_path / "form.json"
    path.write_text(json.dumps(form))

    assert "1 form(s) changed" in cdp(dev_stack, "forms", "apply", str(path)).out
    assert "0 form(s) changed" in cdp(dev_stack, "forms", "apply", str(path)).out
    listed = cdp(dev_stack, "forms", "list")
    assert "cli_form" in listed.out


def test_a_bad_definition_gets_the_apis_message(dev_stack: DevStack, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"id": "bad", "name": "Bad", "condition": {"all": "nope"}}))

    ran = cdp(dev_stack, "segments", "apply", str(path))

    assert ran.code == 1
    assert ran.err.startswith("cdp: PUT /v1/segments/bad: 400")


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("profiles", "get", "user_id:nobody-at-all"), "404 no profile has the identity"),
        (("segments", "apply", "no-such-file.yaml"), "no-such-file.yaml: no such file"),
        (("sources", "rotate", "no-such-source"), "404 no source is called no-such-source"),
    ],
)
def test_errors_exit_1_with_a_clear_message(
    dev_stack: DevStack, args: tuple[str, ...], message: str
) -> None:
    ran = cdp(dev_stack, *args)

    assert ran.code == 1
    assert ran.err.startswith("cdp: ")
    assert message in ran.err
    assert "Traceback" not in ran.err


def test_a_wrong_secret_key_is_refused(dev_stack: DevStack) -> None:
    ran = cdp(dev_stack, "sources", "list", secret_key="sk_wrong")

    assert ran.code == 1
    assert "401" in ran.err


def test_an_unreachable_api_is_said_so(dev_stack: DevStack) -> None:
    ran = cdp(dev_stack, "sources", "list", "--url", "http://127.0.0.1:9")

    assert ran.code == 1
    assert ran.err.startswith("cdp: cannot reach http://127.0.0.1:9")


def test_the_config_file_is_used_when_no_flag_or_environment_says_otherwise(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"url": dev_stack.url, "secret_key": SECRET_KEY}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDP_")}
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "sources", "list", "--json",
         "--config", str(config)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), list)


# -- sql --------------------------------------------------------------------------------


def test_events_sent_are_answered_by_cdp_sql_within_a_minute(dev_stack: DevStack) -> None:
    from segment.analytics.client import Client

    # given events sent with Segment's own Python library
    user = f"sql-{uuid.uuid4().hex[:8]}"
    client = Client(write_key=WRITE_KEY, host=dev_stack.url, max_retries=2)
    client.identify(user, {"plan": "pro"})
    for amount in (20, 22.5):
        client.track(user, "Order Completed", {"revenue": amount, "currency": "EUR"})
    client.flush()
    sent = time.monotonic()

    # when the lake is queried until it has them
    query = (
        "select event, count(*) as n, sum(revenue) as revenue from events "
        f"where user_id = '{user}' group by event order by event nulls first"
    )
    while True:
        answer = cdp(dev_stack, "sql", query, "--json")
        assert answer.code == 0, answer.err
        if len(answer.json()) == 2 or time.monotonic() - sent > 60:
            break
        time.sleep(1)

    # then they are there within the minute, as a table too
    assert answer.json() == [
        {"event": None, "n": 1, "revenue": None},
        {"event": "Order Completed", "n": 2, "revenue": 42.5},
    ]
    assert time.monotonic() - sent < 60
    table = cdp(dev_stack, "sql", f"select type, user_id from events where user_id = '{user}' "
                "and type = 'identify'")  # fmt: skip
    assert table.out.splitlines() == ["type      user_id", f"identify  {user}"]

    # and the person's timeline says where events older than the hot window are, with a query
    # cdp sql runs (here it finds none: every event is minutes old)
    timeline = requests.get(
        f"{dev_stack.url}/v1/profiles/user_id:{user}/events",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    ).json()
    assert len(timeline["events"]) == 3
    older = timeline["older_events"]
    assert older["table"] == "events"
    assert f"'user_id:{user}'" in older["sql"]
    answer = cdp(dev_stack, "sql", older["sql"], "--json")
    assert answer.code == 0, answer.err
    assert answer.json() == []


def test_a_bad_query_is_said_so_without_a_stack_trace(dev_stack: DevStack) -> None:
    for query, message in (
        ("selec 1", "cdp: the query: Parser Error: syntax error"),
        ("select nothing from events", 'cdp: the query: Binder Error: Referenced column "nothing"'),
    ):
        answer = cdp(dev_stack, "sql", query)
        assert answer.code == 1
        assert answer.err.startswith(message), answer.err
        assert "Traceback" not in answer.err


def lake_of(stack: DevStack) -> Path:
    found = requests.get(f"{stack.url}/_dev/lake", timeout=10).json()
    return Path(found["warehouse"])


def wait_for_rows(stack: DevStack, query: str, rows: int, within: float = 120) -> list[Any]:
    """`cdp sql`'s answer once it has `rows` rows (the lake's writer commits every 5 s here;
    the deadline only guards against a hang)."""
    deadline = time.monotonic() + within
    while True:
        answer = cdp(stack, "sql", query, "--json")
        assert answer.code == 0, answer.err
        found: list[Any] = answer.json()
        if len(found) == rows or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_a_new_computed_trait_counts_the_past_from_the_lake(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    # given orders a person placed before the trait existed, in the lake
    user = f"past-{uuid.uuid4().hex[:8]}"
    for revenue in (10, 20):
        body = {"userId": user, "event": "Gift Card Bought", "properties": {"revenue": revenue}}
        assert track(dev_stack, body) == 200
    query = f"select message_id from events where user_id = '{user}'"
    assert len(wait_for_rows(dev_stack, query, 2)) == 2

    # when the trait is applied as code, and another order comes once it counts
    trait = f"gift_cards_{uuid.uuid4().hex[:6]}"
    (tmp_path / "trait.yaml").write_text(
        f"id: {trait}\ntype: sum\nevent: Gift Card Bought\nproperty: revenue\n"
    )
    applied = cdp(dev_stack, "computed", "apply", str(tmp_path / "trait.yaml"))
    assert applied.code == 0, applied.err
    time.sleep(6)  # past its counts_from
    body = {"userId": user, "event": "Gift Card Bought", "properties": {"revenue": 5}}
    assert track(dev_stack, body) == 200

    # then `cdp computed backfill` follows its backfill until done
    ran = cdp(dev_stack, "computed", "backfill", trait, "--json")
    assert ran.code == 0, ran.err
    assert ran.json()["status"] == "done"
    assert "waiting for the lake" in ran.err
    # and the profile counts every order once: two from the lake, one as it arrived
    wait_for_profile(dev_stack, f"user_id:{user}", 3)
    shown = cdp(dev_stack, "profiles", "get", f"user_id:{user}", "--json")
    assert shown.json()["computed"][trait] == 35


def test_an_erased_person_leaves_the_lake_files(dev_stack: DevStack) -> None:
    # given a person's events in the lake
    user = f"gone-{uuid.uuid4().hex[:8]}"
    for number in range(2):
        body = {"userId": user, "anonymousId": f"{user}-device", "event": f"Step {number}"}
        assert track(dev_stack, body) == 200
    query = f"select message_id from events where user_id = '{user}'"
    assert len(wait_for_rows(dev_stack, query, 2)) == 2
    wait_for_profile(dev_stack, f"user_id:{user}", 2)

    # when the person is erased
    erased = cdp(dev_stack, "profiles", "delete", f"user_id:{user}", "--yes")
    assert erased.code == 0, erased.err

    # then, once the sweep has run (65 seconds in cdp dev), no query finds them
    everywhere = (
        f"select 'events' as t from events where user_id = '{user}' or identity like '%{user}%' "
        f"union all select 'identities' from identities where identity like '%{user}%'"
    )
    assert wait_for_rows(dev_stack, everywhere, 0, within=240) == []
    # and no file of the lake holds them: Parquet read row by row, the rest as bytes
    import pyarrow.parquet as pq

    lake = lake_of(dev_stack)
    for path in lake.rglob("*"):
        if path.suffix == ".parquet":
            assert user not in str(pq.read_table(path).to_pylist()), path
        elif path.is_file():
            assert user.encode() not in path.read_bytes(), path
