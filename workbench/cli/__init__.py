"""The `cdp` command line: the local platform, imports, and daily operations against a
deployed stack or `cdp dev` (URL and secret key from flags, the environment or a config file).
Readable tables by default, JSON with --json; a clear message and a non-zero exit on errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.client import Api, CliError, Target, identity_path
from workbench.cli.output import pairs, say, show, table

if TYPE_CHECKING:
    # What `add_subparsers` answers (argparse gives it no public name).
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def _dev_parser(commands: Commands) -> None:
    from workbench.defaults import DEV_HOST, DEV_PORT, DEV_SECRET_KEY, DEV_WRITE_KEY

    dev = commands.add_parser(
        "dev",
        help="run the whole platform locally (no AWS account, no Docker)",
        description="Run the whole platform on this machine: moto serves DynamoDB, a local "
        "gateway serves the API with the same handler functions Lambda runs.",
    )
    dev.add_argument("--host", default=DEV_HOST, help="address to listen on (default %(default)s)")
    dev.add_argument("--port", type=int, default=DEV_PORT, help="API port (default %(default)s)")
    dev.add_argument(
        "--aws-port", type=int, default=0, help="port of the local AWS endpoint (default: any free)"
    )
    dev.add_argument(
        "--write-key",
        default=os.environ.get("CDP_WRITE_KEY", DEV_WRITE_KEY),
        help="write key for collecting (env CDP_WRITE_KEY; default %(default)s)",
    )
    dev.add_argument(
        "--secret-key",
        default=os.environ.get("CDP_SECRET_KEY", DEV_SECRET_KEY),
        help="secret key for the profile and admin APIs (env CDP_SECRET_KEY; default %(default)s)",
    )
    dev.add_argument(
        "--allowed-origins",
        default=os.environ.get("CDP_ALLOWED_ORIGINS", "*"),
        help="comma-separated origins browsers may send from (default: any)",
    )
    dev.add_argument(
        "--webhook",
        default=os.environ.get("CDP_WEBHOOK_URL"),
        help="POST every segment and profile event to this URL, HMAC-signed (env CDP_WEBHOOK_URL)",
    )
    dev.add_argument(
        "--webhook-secret",
        default=os.environ.get("CDP_WEBHOOK_SECRET"),
        help="secret for the webhook signature (env CDP_WEBHOOK_SECRET; default: random, printed)",
    )
    dev.add_argument(
        "--scheduler-seconds",
        type=float,
        default=60.0,
        help="how often the scheduled functions run (default %(default)s; POST /_dev/scheduler "
        "runs them at once)",
    )
    dev.add_argument(
        "--identity-secret",
        default=os.environ.get("CDP_IDENTITY_SECRET"),
        help="key your site signs user ids with for the preference center "
        "(env CDP_IDENTITY_SECRET; default: random, printed)",
    )
    dev.add_argument(
        "--consent-required",
        action="store_true",
        default=os.environ.get("CDP_CONSENT_REQUIRED", "").lower() in ("1", "true", "yes"),
        help="store only events that carry analytics consent (env CDP_CONSENT_REQUIRED)",
    )
    dev.add_argument("--verbose", action="store_true", help="show the functions' own logs")
    dev.set_defaults(run=_run_dev)


def _run_dev(arguments: argparse.Namespace) -> int:
    from cdp.sharing.urls import webhook_url_problem
    from workbench.local.dev import DevOptions, run

    problem = arguments.webhook and webhook_url_problem(arguments.webhook, allow_loopback=True)
    if problem:
        raise CliError(f"--webhook {arguments.webhook}: {problem}")
    return run(
        DevOptions(
            host=arguments.host,
            port=arguments.port,
            aws_port=arguments.aws_port,
            write_key=arguments.write_key,
            secret_key=arguments.secret_key,
            allowed_origins=arguments.allowed_origins,
            webhook=arguments.webhook,
            webhook_secret=arguments.webhook_secret,
            identity_secret=arguments.identity_secret,
            consent_required=arguments.consent_required,
            scheduler_seconds=arguments.scheduler_seconds,
            verbose=arguments.verbose,
        )
    )


def _api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the API (env CDP_URL; default: cdp dev on :8080)")
    parser.add_argument("--secret-key", help="the secret key (env CDP_SECRET_KEY)")
    parser.add_argument("--config", help="config file (env CDP_CONFIG; ~/.config/cdp/config.json)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _command(
    group: Commands, name: str, run: Callable[[Api, argparse.Namespace], int | None], help_text: str
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text, description=help_text)
    _api_options(parser)
    parser.set_defaults(run=lambda arguments: _with_api(run, arguments))
    return parser


def _with_api(
    run: Callable[[Api, argparse.Namespace], int | None], arguments: argparse.Namespace
) -> int:
    api = Api(Target.resolve(arguments.url, arguments.secret_key, arguments.config))
    return run(api, arguments) or 0


# -- profiles ---------------------------------------------------------------------------


def _profiles(commands: Commands) -> None:
    profiles = commands.add_parser("profiles", help="look up, export and erase people")
    group = profiles.add_subparsers(dest="action", required=True, metavar="ACTION")

    def get(api: Api, a: argparse.Namespace) -> None:
        profile = api.get(f"/v1/profiles/{identity_path(a.identity)}")
        if a.json:
            return show(profile, as_json=True)
        pairs(
            {
                "profile": profile["profile_id"],
                "identities": ", ".join(f"{i['type']}:{i['value']}" for i in profile["identities"]),
                "first seen": profile["first_seen"],
                "last seen": profile["last_seen"],
                "events": profile["event_count"],
                "segments": ", ".join(profile["segments"]) or "-",
                "consent": {p: c.get("state") for p, c in profile["consent"].items()},
            }
        )
        print()
        table(
            [
                {"trait": name, "value": value, **profile["trait_sources"].get(name, {})}
                for name, value in profile["traits"].items()
            ],
            ["trait", "value", "kind", "source", "set_at", "expires_at"],
        )
        print()
        table(
            [{"computed": k, "value": v} for k, v in profile["computed"].items() if v],
            ["computed", "value"],
        )
        return None

    def events(api: Api, a: argparse.Namespace) -> None:
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = api.get(
                f"/v1/profiles/{identity_path(a.identity)}/events", limit=a.limit, cursor=cursor
            )
            found += page["events"]
            cursor = page["cursor"]
            if not a.all or cursor is None:
                break
        rows = [
            {
                "time": e.get("timestamp"),
                "type": e.get("type"),
                "name": e.get("event") or e.get("name"),
                "message_id": e.get("messageId"),
            }
            for e in found
        ]
        show(
            found if a.json else rows,
            as_json=a.json,
            columns=["time", "type", "name", "message_id"],
        )

    def export(api: Api, a: argparse.Namespace) -> None:
        document = api.get(f"/v1/profiles/{identity_path(a.identity)}/export")
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if a.output:
            Path(a.output).write_text(text + "\n", encoding="utf-8")
            say(f"written to {a.output} ({len(document['events'])} events)")
        else:
            print(text)

    def delete(api: Api, a: argparse.Namespace) -> int:
        if not a.yes:
            say(f"this erases everything held about {a.identity}; add --yes to go ahead")
            return 2
        answer = api.delete(f"/v1/profiles/{identity_path(a.identity)}")
        columns = ["profile_id", "events", "identities", "profiles", "refused_messages"]
        show(answer if a.json else [answer["erased"]], as_json=a.json, columns=columns)
        return 0

    for name, run, text in (
        ("get", get, "a merged profile by any identity (user_id:42, email:a@b.c)"),
        ("events", events, "a person's timeline, newest first"),
        ("export", export, "everything held about a person, as JSON"),
        ("delete", delete, "erase a person everywhere"),
    ):
        parser = _command(group, name, run, text)
        parser.add_argument("identity", help="type:value, e.g. user_id:42 or email:ada@example.com")
        if name == "events":
            parser.add_argument("--limit", type=int, default=20)
            parser.add_argument("--all", action="store_true", help="every page")
        if name == "export":
            parser.add_argument("--output", "-o", help="write to this file")
        if name == "delete":
            parser.add_argument("--yes", action="store_true", help="really erase")
    _unmerge(group)


def _unmerge(group: Commands) -> None:
    def unmerge(api: Api, a: argparse.Namespace) -> int:
        if bool(a.split) == bool(a.merge):
            say("name the identities to split out (--split type:value), or a merge (--merge)")
            return 2
        body = {"identities": a.split} if a.split else {"merge": a.merge}
        answer = api.post(f"/v1/profiles/{identity_path(a.identity)}/unmerge", body)
        if a.json:
            show(answer, as_json=True)
            return 0
        rows = [
            {"profile": side, "profile_id": answer[side]["profile_id"],
             "identities": ", ".join(answer[side]["identities"])}
            for side in ("kept", "split")
        ]  # fmt: skip
        table(rows, ["profile", "profile_id", "identities"])
        return 0

    text = "split identities merged by mistake into a profile of their own"
    parser = _command(group, "unmerge", unmerge, text)
    parser.add_argument("identity", help="type:value of the merged profile")
    parser.add_argument(
        "--split", action="append", default=[], metavar="TYPE:VALUE",
        help="an identity to split out (repeat for several)",
    )  # fmt: skip
    parser.add_argument(
        "--merge", metavar="PROFILE_ID", help="undo this recorded merge (see `get`)"
    )


# -- segments, forms, computed traits ---------------------------------------------------

PRUNE_HELP = (
    "also delete what is deployed but not in the files (a default computed trait is switched off)"
)


def _definitions(commands: Commands) -> None:
    from workbench.cli.apply import COMPUTED, FORMS, SEGMENTS, Kind, apply

    segments = commands.add_parser("segments", help="segments as code; members; explain")
    group = segments.add_subparsers(dest="action", required=True, metavar="ACTION")

    def apply_command(kind: Kind) -> Callable[[Api, argparse.Namespace], int]:
        def run(api: Api, a: argparse.Namespace) -> int:
            apply(api, kind, a.files, dry_run=a.dry_run, prune=a.prune)
            return 0

        return run

    parser = _command(group, "apply", apply_command(SEGMENTS), "make segments match files")
    parser.add_argument("files", nargs="+", help="YAML or JSON files")
    parser.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
    parser.add_argument("--prune", action="store_true", help=PRUNE_HELP)

    def list_segments(api: Api, a: argparse.Namespace) -> None:
        answer = api.get("/v1/segments")["segments"]
        rows = [
            {
                "id": s["segment"]["id"],
                "name": s["segment"]["name"],
                "members": s["members"],
                "backfill": (s.get("backfill") or {}).get("status"),
            }
            for s in answer
        ]
        show(
            answer if a.json else rows,
            as_json=a.json,
            columns=["id", "name", "members", "backfill"],
        )

    _command(group, "list", list_segments, "every segment with its member count")

    def members(api: Api, a: argparse.Namespace) -> None:
        from workbench.cli.members import export_members

        export_members(
            api,
            a.segment,
            identifiers=a.identifiers,
            file=Path(a.csv) if a.csv else None,
            as_json=a.json,
            page_size=a.limit,
            cursor=a.cursor,
        )

    parser = _command(
        group,
        "members",
        members,
        "every member of a segment as CSV (or JSON Lines with --json), page after page",
    )
    parser.add_argument("segment")
    parser.add_argument(
        "--identifiers",
        metavar="TYPES",
        help="identity types to give each member with, comma-separated: email,user_id,phone",
    )
    parser.add_argument("--csv", metavar="FILE", help="write to this file (default: stdout)")
    parser.add_argument("--limit", type=int, default=1000, help="members per request (1-1000)")
    parser.add_argument("--cursor", help="start after this cursor (an interrupted export's)")

    def explain(api: Api, a: argparse.Namespace) -> None:
        answer = api.get(f"/v1/profiles/{identity_path(a.identity)}/segments/{a.segment}/explain")
        show(answer, as_json=True)

    parser = _command(group, "explain", explain, "why a person is or is not in a segment")
    parser.add_argument("segment")
    parser.add_argument("identity")

    for command, kind, path, columns in (
        ("forms", FORMS, "/v1/forms", ["id", "name", "questions_per_step", "consent_purposes"]),
        ("computed", COMPUTED, "/v1/computed-traits", ["id", "type", "event", "windows"]),
    ):
        top = commands.add_parser(command, help=f"{kind.name}s as code")
        sub = top.add_subparsers(dest="action", required=True, metavar="ACTION")
        parser = _command(sub, "apply", apply_command(kind), f"make {kind.name}s match files")
        parser.add_argument("files", nargs="+", help="YAML or JSON files")
        parser.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
        parser.add_argument("--prune", action="store_true", help=PRUNE_HELP)

        def list_items(
            api: Api, a: argparse.Namespace, path: str = path, columns: list[str] = columns
        ) -> None:
            answer = api.get(path)
            items = next(iter(answer.values()))
            show(items, as_json=a.json, columns=columns)

        _command(sub, "list", list_items, f"every {kind.name}")
        if kind is COMPUTED:
            parser = _command(sub, "backfill", _backfill, BACKFILL_HELP)
            parser.add_argument("trait", help="the computed trait's id")
            parser.add_argument(
                "--no-wait", action="store_true", help="start it and answer, do not wait"
            )


BACKFILL_HELP = (
    "add a new or changed computed trait's past from the data lake: it counts the events "
    "received from when it was stored; this adds those received before, once"
)
BACKFILL_POLL_SECONDS = 2.0


def _backfill(api: Api, a: argparse.Namespace) -> int:
    from workbench.cli.output import end_progress, progress_line

    path = f"/v1/computed-traits/{a.trait}/backfill"
    found = api.post(path)
    say(
        f"{a.trait} counts the events received from {found['counts_from']} as they arrive; "
        "this adds those received before, from the data lake"
    )
    try:
        while not a.no_wait and found["status"] != "done":
            if found["status"] == "waiting":
                progress_line(
                    f"waiting for the lake to hold every event received before, until "
                    f"{found['starts_at']}"
                )
            else:
                progress_line(
                    f"reading the lake: {found['parts_done']} of {found['parts']} parts done, "
                    f"{found['identities']:,} identities read"
                )
            time.sleep(BACKFILL_POLL_SECONDS)
            found = api.get(path)
    finally:
        end_progress()
    if a.json:
        show(found, as_json=True)
    else:
        pairs(found)
    return 0


# -- sources ----------------------------------------------------------------------------


def _sources(commands: Commands) -> None:
    sources = commands.add_parser("sources", help="sources and their write keys")
    group = sources.add_subparsers(dest="action", required=True, metavar="ACTION")
    columns = ["name", "kind", "claims", "created_at", "keys"]

    def summary(source: dict[str, Any]) -> dict[str, Any]:
        keys = ", ".join(f"{k['key_id']} ({k['state']})" for k in source["keys"])
        return {**source, "keys": keys, "claims": ", ".join(source.get("claims", []))}

    def with_key(answer: dict[str, Any], a: argparse.Namespace) -> None:
        if a.json:
            return show(answer, as_json=True)
        print(answer["write_key"])
        say(f"source {answer['source']['name']}: {answer['note']}")
        return None

    def create(api: Api, a: argparse.Namespace) -> None:
        body = {"name": a.name, "kind": a.kind, **({"declares": True} if a.declares else {})}
        with_key(api.post("/v1/sources", body), a)

    def list_sources(api: Api, a: argparse.Namespace) -> None:
        answer = api.get("/v1/sources")["sources"]
        show(answer if a.json else [summary(s) for s in answer], as_json=a.json, columns=columns)

    def rotate(api: Api, a: argparse.Namespace) -> None:
        with_key(api.post(f"/v1/sources/{a.name}/rotate", {"overlap_hours": a.overlap_hours}), a)

    def disable(api: Api, a: argparse.Namespace) -> None:
        answer = api.post(f"/v1/sources/{a.name}/disable")["source"]
        show(answer if a.json else [summary(answer)], as_json=a.json, columns=columns)

    parser = _command(group, "create", create, "a new source; prints its write key once")
    parser.add_argument("name")
    parser.add_argument(
        "--kind", default="other", choices=["website", "app", "server", "crm", "email", "other"]
    )
    parser.add_argument(
        "--declares",
        action="store_true",
        help="its messages may mark traits as declared (a back end, never a website or app)",
    )
    _command(group, "list", list_sources, "every source and the state of its keys")
    parser = _command(group, "rotate", rotate, "a new write key; the old works for an overlap")
    parser.add_argument("name")
    parser.add_argument("--overlap-hours", type=int, default=24)
    parser = _command(group, "disable", disable, "stop every key of a source")
    parser.add_argument("name")


# -- destinations -----------------------------------------------------------------------


def _destinations(commands: Commands) -> None:
    from workbench.cli.apply import DESTINATIONS, apply

    top = commands.add_parser("destinations", help="destinations as code; what each was sent")
    group = top.add_subparsers(dest="action", required=True, metavar="ACTION")

    def apply_destinations(api: Api, a: argparse.Namespace) -> None:
        apply(api, DESTINATIONS, a.files, dry_run=a.dry_run, prune=a.prune)

    parser = _command(group, "apply", apply_destinations, "make destinations match files")
    parser.add_argument(
        "files", nargs="+", help="YAML or JSON files; `secret_env` names the secret's variable"
    )
    parser.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
    parser.add_argument("--prune", action="store_true", help="also delete what the files omit")

    def list_destinations(api: Api, a: argparse.Namespace) -> None:
        found = api.get("/v1/destinations")["destinations"]
        rows = [
            {
                **d,
                "audiences": ", ".join(d["audiences"]),
                "state": "on" if d["enabled"] else "paused",
            }
            for d in found
        ]
        show(
            found if a.json else rows,
            as_json=a.json,
            columns=["id", "connector", "purpose", "state", "audiences", "has_secret"],
        )

    _command(group, "list", list_destinations, "every destination")

    def switch(enabled: bool) -> Callable[[Api, argparse.Namespace], None]:
        def run(api: Api, a: argparse.Namespace) -> None:
            definition = api.get(f"/v1/destinations/{a.id}")
            api.put(f"/v1/destinations/{a.id}", {**definition, "enabled": enabled})
            say(f"destination {a.id}: {'on' if enabled else 'paused'}")

        return run

    for name, enabled, text in (
        ("pause", False, "send nothing until resumed"),
        ("resume", True, "send again (changes made while paused are not sent)"),
    ):
        _command(group, name, switch(enabled), text).add_argument("id")

    def deliveries(api: Api, a: argparse.Namespace) -> None:
        answer = api.get(f"/v1/destinations/{a.id}/deliveries", days=a.days)
        if a.json:
            return show(answer, as_json=True)
        show(
            answer["days"],
            as_json=False,
            columns=["day", "delivered", "retried", "failed", "skipped"],
        )
        say("totals: " + ", ".join(f"{n} {state}" for state, n in answer["totals"].items()))
        for error in answer["last_errors"]:
            say(f"  {error['at']} {error['kind']}: {error['message']}")
        return None

    def resync(api: Api, a: argparse.Namespace) -> None:
        answer = api.post(f"/v1/destinations/{a.id}/resync")
        say(
            f"destination {a.id}: every member of {', '.join(answer['segments']) or 'no segment'}"
            " who granted its purpose is being added again (see `deliveries`)"
        )

    parser = _command(group, "resync", resync, "send every member of its segments again")
    parser.add_argument("id")

    parser = _command(group, "deliveries", deliveries, "what a destination was sent, per day")
    parser.add_argument("id")
    parser.add_argument("--days", type=int, default=7)


# -- import -----------------------------------------------------------------------------


def _import(commands: Commands) -> None:
    parser = _command(commands, "import", _run_import, "import a CSV or JSON Lines file")
    parser.add_argument("file")
    parser.add_argument("--source", required=True, help="the source the rows come from (crm)")
    parser.add_argument(
        "--kind",
        choices=["people", "events"],
        default="people",
        help="one person per row (identify), or one event per row (track)",
    )
    parser.add_argument(
        "--id",
        action="append",
        default=[],
        metavar="TYPE=COLUMN",
        help="an identity column: user_id=customer_id, email=mail, crm_id=id",
    )
    parser.add_argument("--trait", action="append", default=[], metavar="TRAIT=COLUMN")
    parser.add_argument("--property", action="append", default=[], metavar="NAME=COLUMN")
    parser.add_argument("--event", help="the column holding the event name")
    parser.add_argument("--event-name", help="one event name for every row")
    parser.add_argument("--timestamp", help="the column holding the time of a row")
    parser.add_argument(
        "--consent",
        action="append",
        default=[],
        metavar="PURPOSE=COLUMN",
        help="a column with a consent decision: marketing=newsletter_optin",
    )
    parser.add_argument("--mapping", help="a JSON mapping file instead of the flags")
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from the extension")
    parser.add_argument("--write-key", help="a write key of the source (default: a temporary one)")
    parser.add_argument("--batch-size", type=int, default=500)


def _run_import(api: Api, a: argparse.Namespace) -> int:
    import time

    from cdp.intake.importing import ImportMapping
    from workbench.cli.importer import run_import

    try:
        if a.mapping:
            mapping = ImportMapping.model_validate_json(Path(a.mapping).read_text())
        else:
            mapping = ImportMapping.from_flags(
                kind=a.kind,
                ids=a.id,
                traits=a.trait,
                properties=a.property,
                event=a.event,
                event_name=a.event_name,
                timestamp=a.timestamp,
                consent=a.consent,
            )
    except (ValueError, OSError) as error:
        raise CliError(f"the mapping: {error}") from None
    started = time.monotonic()
    path = Path(a.file)
    try:
        summary = run_import(
            api,
            path,
            source=a.source,
            mapping=mapping,
            write_key=a.write_key,
            file_format=a.format,
            batch_size=a.batch_size,
        )
    except KeyboardInterrupt:
        say(f"\ninterrupted; run the same command again to resume {path}")
        return 130
    for line in summary.lines(
        path.with_name(path.name + ".rejected.jsonl"), time.monotonic() - started
    ):
        print(line)
    return 0


# -- keys (AWS) -------------------------------------------------------------------------


def _keys(commands: Commands) -> None:
    keys = commands.add_parser("keys", help="the first secret key of a deployed stack")
    group = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = group.add_parser(
        "create-secret",
        help="create a secret key directly in a stack's keys table (your AWS credentials)",
        description="The admin API needs a secret key, so the first one is made with AWS "
        "credentials instead: its hash goes into the stack's keys table; the key is printed once.",
    )
    parser.add_argument("--stack", required=True, help="the CloudFormation stack (Cdp-prod)")
    parser.add_argument("--region", help="default: your AWS configuration's")
    parser.add_argument("--label", default="operator", help="who the key is for")
    parser.set_defaults(run=_create_secret)


def _create_secret(arguments: argparse.Namespace) -> int:
    import boto3

    from cdp.access.keys import ApiKey, generate_key, hash_key
    from cdp.runtime.clock import iso, utc_now
    from cdp.storage.keys import KeyStore

    cloudformation = boto3.client("cloudformation", region_name=arguments.region)
    try:
        found = cloudformation.describe_stack_resources(StackName=arguments.stack)
    except Exception as error:
        raise CliError(f"cannot read stack {arguments.stack}: {error}") from None
    tables = [
        r["PhysicalResourceId"]
        for r in found["StackResources"]
        if r["LogicalResourceId"].startswith("StorageKeys")
    ]
    if not tables:
        raise CliError(f"stack {arguments.stack} has no keys table")
    key = generate_key("secret")
    store = KeyStore(tables[0], client=boto3.client("dynamodb", region_name=arguments.region))
    store.put(ApiKey(hash_key(key), "secret", arguments.label), created_at=iso(utc_now()))
    print(key)
    say("the secret key is shown this once; only its hash is kept")
    return 0


# -- redrive (AWS) ----------------------------------------------------------------------


def _redrive(commands: Commands) -> None:
    parser = commands.add_parser(
        "redrive",
        help="give failed stream records and dead letters back to the platform (AWS)",
        description="After a fix is deployed: stream records that failed every retry are read "
        "again from the stream and given to their function; dead letters of task queues are "
        "moved back to their queue. Uses your AWS credentials.",
    )
    parser.add_argument("--stack", required=True, help="the CloudFormation stack (Cdp-prod)")
    parser.add_argument("--region", help="default: your AWS configuration's")
    parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
    parser.set_defaults(run=_run_redrive)


def _run_redrive(arguments: argparse.Namespace) -> int:
    import boto3

    from workbench.cli.redrive import run

    def client(name: str) -> Any:
        return boto3.client(name, region_name=arguments.region)

    for line in run(
        cloudformation=client("cloudformation"),
        sqs=client("sqs"),
        streams=client("dynamodbstreams"),
        lambda_client=client("lambda"),
        stack=arguments.stack,
        dry_run=arguments.dry_run,
    ):
        print(line)
    return 0


# -- sql --------------------------------------------------------------------------------


def _sql(commands: Commands) -> None:
    parser = commands.add_parser(
        "sql",
        help="SQL over the data lake: events, profiles, identities",
        description="Answer a query over the data lake's tables (events, profiles, "
        "identities). Against `cdp dev` (--url, env CDP_URL; default :8080) DuckDB reads the "
        "lake's files on this machine; with --stack, Athena runs it in the stack's workgroup.",
    )
    parser.add_argument("query", help='e.g. "select event, count(*) from events group by 1"')
    parser.add_argument("--url", help="cdp dev (env CDP_URL; default http://127.0.0.1:8080)")
    parser.add_argument("--config", help="config file (env CDP_CONFIG; ~/.config/cdp/config.json)")
    parser.add_argument("--stack", help="a deployed stack (Cdp-prod): query it with Athena")
    parser.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=_run_sql)


def _run_sql(arguments: argparse.Namespace) -> int:
    from workbench.cli import sql
    from workbench.cli.output import end_progress, grid, progress_line

    if arguments.stack:
        import boto3

        workgroup, database = sql.stack_lake(
            boto3.client("cloudformation", region_name=arguments.region), arguments.stack
        )
        try:
            answer = sql.athena_query(
                boto3.client("athena", region_name=arguments.region),
                arguments.query,
                workgroup=workgroup,
                database=database,
                progress=progress_line,
            )
        finally:
            end_progress()
    else:
        target = Target.resolve(arguments.url, None, arguments.config)
        status, found = Api(target, timeout=10).send("GET", "/_dev/lake")
        if status != 200 or not isinstance(found, dict) or "warehouse" not in found:
            raise CliError(
                f"{target.url} is not cdp dev (no /_dev/lake); to query a deployed stack, "
                "pass --stack NAME"
            )
        answer = sql.local_query(found["warehouse"], arguments.query)
    if arguments.json:
        show(sql.as_records(answer), as_json=True)
    elif answer.columns:
        grid(*sql.cells(answer))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cdp", description="Serverless customer data platform")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _dev_parser(commands)
    _import(commands)
    _profiles(commands)
    _definitions(commands)
    _sources(commands)
    _destinations(commands)
    _keys(commands)
    _redrive(commands)
    _sql(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        code: int = arguments.run(arguments)
        return code
    except CliError as error:
        print(f"cdp: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
