"""The `cdp` command line against `cdp dev`, run as a person runs it: a separate process,
configured by the environment, reading its tables and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, SECRET_KEY, DevStack, cdp, track, wait_for_profile

pytestmark = pytest.mark.e2e


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
