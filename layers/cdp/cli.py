"""The `cdp` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    from cdp.local.dev import DEV_SECRET_KEY, DEV_WRITE_KEY

    parser = argparse.ArgumentParser(prog="cdp", description="Serverless customer data platform")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser(
        "dev",
        help="run the whole platform locally (no AWS account, no Docker)",
        description="Run the whole platform on this machine: moto serves DynamoDB, a local "
        "gateway serves the API with the same handler functions Lambda runs.",
    )
    dev.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    dev.add_argument("--port", type=int, default=8080, help="API port (default %(default)s)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "dev":
        from cdp.local.dev import DevOptions, run

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
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
