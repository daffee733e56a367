"""`cdp dev`: the whole platform on one machine, with no AWS account and no Docker."""

from __future__ import annotations

import gc
import json
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl

import boto3

from cdp.access.keys import ApiKey, KeyKind, hash_key
from cdp.intake.verification import sign
from cdp.runtime import clock
from cdp.runtime.tables import CONFIG, KEYS
from cdp.storage import clients
from cdp.storage.config import ConfigStore
from cdp.storage.keys import KeyStore
from infra import wiring
from infra.config import DeploymentConfig
from workbench.defaults import DEV_HOST, DEV_PORT, DEV_SECRET_KEY, DEV_WRITE_KEY
from workbench.local import answers, partitions
from workbench.local.aws import (
    LocalAws,
    apply_environment,
    create_bus,
    create_queues,
    create_secrets,
    create_tables,
)
from workbench.local.bus import BusTap, connect_tap
from workbench.local.gateway import Functions, make_server
from workbench.local.memory import held
from workbench.local.metrics import EmfToCloudWatch
from workbench.local.queues import QueueRunner
from workbench.local.retention import Retention
from workbench.local.signin import (
    AUTHORIZE_PATH,
    LOGOUT_PATH,
    SIGN_IN_PATH,
    TOKEN_PATH,
    LocalSignIn,
)
from workbench.local.streams import StreamRunner
from workbench.local.worker import Worker

Answer = tuple[int, dict[str, str], bytes]

# The form the demo page asks, two questions at a time.
DEMO_FORM: dict[str, Any] = {
    "id": "household",
    "name": "About your household",
    "questions_per_step": 2,
    "consent_purposes": ["personalization", "marketing"],
    "consent_text": "We use your answers to tailor offers to you. You can change this any time.",
    "consent_version": "demo-1",
    "fields": [
        {
            "trait": "moving_soon",
            "label": "Are you moving in the next six months?",
            "type": "boolean",
            "purpose": "So we can offer moving insurance at the right time",
            "valid_days": 180,
        },
        {
            "trait": "home",
            "label": "Do you own or rent your home?",
            "type": "select",
            "options": ["own", "rent"],
            "purpose": "For mortgage and rental offers",
        },
        {
            "trait": "children",
            "label": "How many children live with you?",
            "type": "number",
            "purpose": "For family offers",
        },
        {
            "trait": "car",
            "label": "Do you have a car?",
            "type": "boolean",
            "purpose": "For car insurance offers",
        },
    ],
}


@dataclass(frozen=True)
class DevOptions:
    host: str = DEV_HOST
    port: int = DEV_PORT
    aws_port: int = 0
    write_key: str = DEV_WRITE_KEY
    secret_key: str = DEV_SECRET_KEY
    allowed_origins: str = "*"
    webhook: str | None = None
    identity_secret: str | None = None
    consent_required: bool = False
    webhook_secret: str | None = None
    scheduler_seconds: float = 60.0
    verbose: bool = False


def dev_environment(options: DevOptions, resources: dict[str, str]) -> dict[str, str]:
    """The environment every function reads in `cdp dev`: what CDK sets in AWS, plus quiet
    Powertools (no X-Ray daemon here, and one log line per request is written by the gateway).
    The importer has no bucket here: S3 notifications are not run locally. Keys are read
    again after 5 seconds instead of a minute: one person's machine, where watching a source
    live should start at once. The lake's writer commits every 5 seconds here, so a computed
    trait's backfill waits 15 seconds for it, not 6 minutes. Functions check erased people
    again after 5 seconds instead of a minute, so an erasure's sweep runs after 10 seconds, not
    5 minutes: the lake and the tables are clear of the person while one still looks."""
    config = DeploymentConfig(
        allowed_origins=options.allowed_origins.split(","),
        consent_required=options.consent_required,
    )
    local = [spec for spec in wiring.FUNCTIONS if not spec.imports]
    return {
        **wiring.shared_environment(
            local,
            resources,
            {
                **config.function_settings(),
                "key_cache_seconds": 5,
                "lake_settle_seconds": 15,
                "suppression_cache_seconds": 5,
                "erasure_sweep_delay_seconds": 10,
            },
        ),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "false",  # they go to the local CloudWatch
        "POWERTOOLS_LOG_LEVEL": "DEBUG" if options.verbose else "WARNING",
    }


def _json(status: int, body: dict[str, Any]) -> Answer:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


class Scheduler(Worker):
    """EventBridge Scheduler's part: runs the scheduled functions on a timer, and on demand."""

    def __init__(self, functions: Functions, every_seconds: float) -> None:
        super().__init__("scheduler", label="scheduler", pause=every_seconds)
        self.functions = functions
        self.specs = [spec for spec in wiring.FUNCTIONS if spec.every_minutes]
        self._lock = threading.Lock()

    def step(self) -> None:
        self.run_now()

    def run_now(self) -> tuple[dict[str, Any], list[str]]:
        """Each scheduled function once, in turn: each one's answer (`{"error": <type>}` when
        it raised), and which raised. As with EventBridge Scheduler's separate schedules, one
        function's failure does not keep the others from running; it is reported on stderr
        (its type only: the message may quote stored data)."""
        outcome: dict[str, Any] = {}
        failed: list[str] = []
        with self._lock:
            for spec in self.specs:
                event = {
                    "id": str(uuid.uuid4()),
                    "source": "aws.scheduler",
                    "detail-type": "Scheduled Event",
                    "time": clock.iso(clock.utc_now()),
                    "detail": {},
                }
                try:
                    outcome[spec.name] = self.functions.invoke(spec, event)
                except Exception as error:
                    name = type(error).__name__
                    self.log(f"  scheduler: {spec.name} failed: {name}")
                    outcome[spec.name] = {"error": name}
                    failed.append(spec.name)
        return outcome, failed


# Everything runs in one process, moto's tables included. With Python's default of a young
# collection every 700 new objects, a large answer (a timeline reading 10,000 events) lived
# through young collections and set off full ones, each walking every stored item: a third
# of that answer's time. Collected every 10,000 new objects, a request's objects die young.
YOUNG_COLLECTION_EVERY = 10_000


def run(options: DevOptions) -> int:  # noqa: PLR0915 (the whole stack is wired here, in order)
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])
    functions = Functions(wiring.FUNCTIONS)
    # The workers' AWS calls, the runtime's own and the platform's, make way for requests.
    boto3.setup_default_session()
    for session_events in (boto3.DEFAULT_SESSION.events, clients.session()):
        functions.requests.give_way(session_events)
    aws = LocalAws.start(options.host, options.aws_port)
    partitions.install()  # a query reads its partition, not the whole table
    answers.install()  # item answers written with json, not walked through their shapes
    apply_environment(aws.environment())
    dynamodb, sqs, events = aws.client("dynamodb"), aws.client("sqs"), aws.client("events")
    table_env = create_tables(dynamodb)
    queue_urls, queue_arns = create_queues(sqs)
    bus_env = create_bus(events)
    identity_secret = options.identity_secret or secrets.token_urlsafe(24)
    secret_env = create_secrets(aws.client("secretsmanager"), identity_secret=identity_secret)
    # What lives on disk: the data lake's tables (a SQLite catalog and Parquet files), which
    # `cdp sql` reads from another process. As fresh as moto's tables, and gone with them.
    data = Path(tempfile.mkdtemp(prefix="cdp-dev-"))
    lake_env = {wiring.LAKE_WAREHOUSE_ENV: str(data / "lake")}
    apply_environment(
        dev_environment(options, {**table_env, **queue_urls, **bus_env, **secret_env, **lake_env})
    )
    keys = KeyStore(table_env[KEYS.env_var], client=dynamodb)
    created_at = datetime.now(UTC).isoformat()
    dev_keys: dict[KeyKind, str] = {"write": options.write_key, "secret": options.secret_key}
    for kind, key in dev_keys.items():
        keys.put(ApiKey(key_hash=hash_key(key), kind=kind, source="dev"), created_at=created_at)

    ConfigStore(table_env[CONFIG.env_var], client=dynamodb).put(
        "form", DEMO_FORM["id"], DEMO_FORM, at=created_at
    )
    EmfToCloudWatch.install(aws.client("cloudwatch"))  # the overview reads the metrics
    console = LocalSignIn(aws.client("cognito-idp"))
    for spec in wiring.FUNCTIONS:
        functions.handler(spec)  # import now: a broken handler fails at start, not per request
    streams = aws.client("dynamodbstreams")
    workers: list[Worker] = [
        StreamRunner(
            spec,
            table_name=table_env[spec.stream.table.env_var],
            dynamodb=dynamodb,
            streams=streams,
            invoke=functions.invoke,
        )
        for spec in wiring.FUNCTIONS
        if spec.stream is not None
    ]
    workers += [
        QueueRunner(
            spec,
            queue_url=queue_urls[spec.queue.queue.env_var],
            queue_arn=queue_arns[spec.queue.queue.env_var],
            sqs=sqs,
            invoke=functions.invoke,
        )
        for spec in wiring.FUNCTIONS
        if spec.queue is not None
    ]
    webhook_secret = options.webhook_secret or secrets.token_urlsafe(24)
    tap = BusTap(
        sqs=sqs,
        queue_url=connect_tap(events, sqs, bus_env[wiring.EVENT_BUS_ENV], "cdp-dev-bus-tap"),
        webhook=options.webhook,
        secret=webhook_secret,
    )
    scheduler = Scheduler(functions, options.scheduler_seconds)
    runners = [worker for worker in workers if isinstance(worker, StreamRunner)]
    workers += [tap, scheduler, Retention(runners)]

    def health(_: bytes, __: str) -> Answer:
        return _json(200, {"status": "ok", "functions": [spec.name for spec in wiring.FUNCTIONS]})

    def move_clock(body: bytes, _: str) -> Answer:
        """POST /_dev/clock {"advance_days": 91}: time travel for time-based segments."""
        try:
            days = float(json.loads(body or b"{}").get("advance_days", 0))
        except (ValueError, AttributeError):
            return _json(400, {"message": 'send {"advance_days": <number>}'})
        now = clock.advance(timedelta(days=days))
        return _json(200, {"now": clock.iso(now)})

    def run_scheduler(_: bytes, __: str) -> Answer:
        """POST /_dev/scheduler: each scheduled function's answer, by name; a 500 naming the
        functions that raised (`failed`) when any did."""
        outcome, failed = scheduler.run_now()
        return _json(500, {**outcome, "failed": failed}) if failed else _json(200, outcome)

    def lake(_: bytes, __: str) -> Answer:
        """GET /_dev/lake: where the lake's tables are, for `cdp sql`."""
        return _json(200, {"warehouse": lake_env[wiring.LAKE_WAREHOUSE_ENV]})

    def memory(_: bytes, query: str) -> Answer:
        """GET /_dev/memory[?objects=1]: what this process holds (see workbench.local.memory)."""
        return _json(
            200,
            held(
                tables=sorted(table_env.values()),
                queue_urls=[*queue_urls.values(), tap.queue_url],
                runners=runners,
                objects=dict(parse_qsl(query)).get("objects") == "1",
            ),
        )

    def demo(_: bytes, __: str) -> Answer:
        page = (files("workbench.local") / "demo.html").read_text(encoding="utf-8")
        html = page.replace("__WRITE_KEY__", options.write_key)
        return 200, {"content-type": "text/html; charset=utf-8"}, html.encode()

    def sign_user(_: bytes, query: str) -> Answer:
        """Plays the website's back end for the demo: signs a user id (never in AWS)."""
        user = dict(parse_qsl(query)).get("userId", "")
        if not user:
            return _json(400, {"message": "send ?userId="})
        return _json(200, {"signature": sign(user, identity_secret)})

    try:
        server = make_server(
            options.host,
            options.port,
            functions,
            extra_routes={
                ("GET", "/health"): health,
                ("POST", "/_dev/clock"): move_clock,
                ("POST", "/_dev/scheduler"): run_scheduler,
                ("GET", "/_dev/lake"): lake,
                ("GET", "/_dev/memory"): memory,
                ("GET", "/demo"): demo,
                ("GET", "/_dev/sign"): sign_user,
                ("GET", AUTHORIZE_PATH): console.authorize,
                ("POST", AUTHORIZE_PATH): console.authorize,
                ("POST", TOKEN_PATH): console.token,
                ("GET", LOGOUT_PATH): console.logout,
            },
            authorizer=console.claims,
        )
    except OSError as error:
        aws.stop()
        shutil.rmtree(data, ignore_errors=True)
        print(
            f"cdp dev: cannot listen on {options.host}:{options.port}: {error.strerror}; "
            "choose another --port",
            file=sys.stderr,
        )
        return 2

    url = f"http://{options.host}:{server.server_address[1]}"
    # Read by the console at its first request: the address is known only now (--port 0).
    apply_environment({"SIGN_IN_URL": url + SIGN_IN_PATH, "CONSOLE_CLIENT_ID": console.client_id})
    webhook_line = (
        f"  webhook      {options.webhook}   (signed: X-CDP-Signature, secret {webhook_secret})\n"
        if options.webhook
        else "  webhook      none (pass --webhook URL to receive segment and profile events)\n"
    )
    print(
        f"cdp dev is running\n"
        f"  API          {url}   (health: {url}/health)\n"
        f"  demo site    {url}/demo\n"
        f"  write key    {options.write_key}   (set CDP_WRITE_KEY or --write-key to change)\n"
        f"  secret key   {options.secret_key}   (set CDP_SECRET_KEY or --secret-key to change)\n"
        f"{webhook_line}"
        f"  identity     signing secret for user ids: {identity_secret}\n"
        f"  console      {url}/console   sign in as "
        + ", ".join(f"{a.email} / {a.password}" for a in console.accounts)
        + "\n"
        f"  AWS (moto)   {aws.endpoint}   region us-east-1, tables: "
        f"{', '.join(sorted(table_env.values()))}\n"
        f'  data lake    {lake_env[wiring.LAKE_WAREHOUSE_ENV]}   (cdp sql "select ..."; '
        "removed at exit)\n"
        f"  Point a Segment library at {url} with the write key above. Ctrl-C stops.",
        flush=True,
    )

    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for worker in workers:
        worker.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        # Together: each may be in a one-second poll, and one after another adds up.
        stopping_workers = [threading.Thread(target=worker.stop) for worker in workers]
        for thread in stopping_workers:
            thread.start()
        for thread in stopping_workers:
            thread.join()
        server.server_close()
        aws.stop()
        shutil.rmtree(data, ignore_errors=True)
        print("cdp dev stopped", flush=True)
    return 0
