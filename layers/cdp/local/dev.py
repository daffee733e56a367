"""`cdp dev`: the whole platform on one machine, with no AWS account and no Docker."""

from __future__ import annotations

import json
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from cdp import wiring
from cdp.keys import ApiKey, hash_key
from cdp.local.aws import LocalAws, apply_environment, create_tables
from cdp.local.gateway import Functions, make_server
from cdp.local.streams import StreamRunner
from cdp.storage.keys import KeyStore
from cdp.tables import KEYS

DEV_WRITE_KEY = "wk_dev_local"
DEV_SECRET_KEY = "sk_dev_local"  # noqa: S105 (a printed local default, not a secret)


@dataclass(frozen=True)
class DevOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    aws_port: int = 0
    write_key: str = DEV_WRITE_KEY
    secret_key: str = DEV_SECRET_KEY
    allowed_origins: str = "*"
    verbose: bool = False


def function_environment(options: DevOptions, table_env: dict[str, str]) -> dict[str, str]:
    """The environment every function reads in `cdp dev`: what CDK sets in AWS, plus quiet
    Powertools (no X-Ray daemon here, and one log line per request is written by the gateway)."""
    return {
        **table_env,
        "ALLOWED_ORIGINS": options.allowed_origins,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "CDP",
        "POWERTOOLS_LOG_LEVEL": "DEBUG" if options.verbose else "WARNING",
    }


def run(options: DevOptions) -> int:
    aws = LocalAws.start(options.host, options.aws_port)
    apply_environment(aws.environment())
    dynamodb = aws.client("dynamodb")
    table_env = create_tables(dynamodb)
    apply_environment(function_environment(options, table_env))
    keys = KeyStore(table_env[KEYS.env_var], client=dynamodb)
    created_at = datetime.now(UTC).isoformat()
    for key, kind in ((options.write_key, "write"), (options.secret_key, "secret")):
        keys.put(ApiKey(key_hash=hash_key(key), kind=kind, source="dev"), created_at=created_at)

    functions = Functions(wiring.FUNCTIONS)
    for spec in wiring.FUNCTIONS:
        functions.handler(spec)  # import now: a broken handler fails at start, not per request
    streams = aws.client("dynamodbstreams")
    runners = [
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

    def health() -> tuple[int, dict[str, str], bytes]:
        body: dict[str, Any] = {
            "status": "ok",
            "functions": [spec.name for spec in wiring.FUNCTIONS],
        }
        return 200, {"content-type": "application/json"}, json.dumps(body).encode()

    try:
        server = make_server(
            options.host, options.port, functions, extra_routes={("GET", "/health"): health}
        )
    except OSError as error:
        aws.stop()
        print(
            f"cdp dev: cannot listen on {options.host}:{options.port}: {error.strerror}; "
            "choose another --port",
            file=sys.stderr,
        )
        return 2

    url = f"http://{options.host}:{server.server_address[1]}"
    print(
        f"cdp dev is running\n"
        f"  API          {url}   (health: {url}/health)\n"
        f"  write key    {options.write_key}   (set CDP_WRITE_KEY or --write-key to change)\n"
        f"  secret key   {options.secret_key}   (set CDP_SECRET_KEY or --secret-key to change)\n"
        f"  AWS (moto)   {aws.endpoint}   region us-east-1, tables: "
        f"{', '.join(sorted(table_env.values()))}\n"
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
    for runner in runners:
        runner.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        for runner in runners:
            runner.stop()
        server.server_close()
        aws.stop()
        print("cdp dev stopped", flush=True)
    return 0
