"""End-to-end fixtures: `cdp dev` in a subprocess, talked to over HTTP like a user would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from cdp.runtime import tables
from cdp.runtime.codec import decompress
from workbench.local.aws import client_for, free_port, table_name

ROOT = Path(__file__).resolve().parents[2]
WRITE_KEY = "wk_e2e_tests"
SECRET_KEY = "sk_e2e_tests"


@dataclass
class DevStack:
    url: str
    aws_endpoint: str
    process: subprocess.Popen[str]
    log: Path  # its output: a file, as a pipe nobody reads would stall a busy server

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def output_with(self, *lines: str, timeout: float = 10) -> str:
        """Its output once it holds each of `lines`, or as it is after `timeout`: a request's
        log line is written after its answer is sent, so a client can be quicker to look."""
        deadline = time.monotonic() + timeout
        output = self.output()
        while not all(line in output for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
            output = self.output()
        return output

    def dynamodb(self) -> Any:
        return client_for(self.aws_endpoint, "dynamodb")

    def stored_messages(self) -> list[dict[str, Any]]:
        """Every stored message (tests may scan; the application never does)."""
        client = self.dynamodb()
        pages = client.get_paginator("scan").paginate(TableName=table_name(tables.EVENTS))
        return [decompress(item["body"]["B"]) for page in pages for item in page["Items"]]


WEBHOOK_SECRET = "whsec_e2e_tests"


def start_dev(*extra: str) -> DevStack:
    port, aws_port = free_port(), free_port()
    log = Path(tempfile.mkstemp(prefix="cdp-dev-", suffix=".log")[1])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "dev",
            "--port",
            str(port),
            "--aws-port",
            str(aws_port),
            "--write-key",
            WRITE_KEY,
            "--secret-key",
            SECRET_KEY,
            *extra,
        ],
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cdp dev exited early:\n{log.read_text(errors='replace')}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return DevStack(
                    url=url,
                    aws_endpoint=f"http://127.0.0.1:{aws_port}",
                    process=process,
                    log=log,
                )
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("cdp dev did not become healthy within 60 s")


def stop_dev(stack: DevStack) -> tuple[int, str]:
    """Stop it the way a person does, with Ctrl-C (SIGINT); answer exit code and output."""
    stack.process.send_signal(signal.SIGINT)
    try:
        # (a hang guard: after a large import, the interpreter's exit waits for a lake commit
        # pyarrow is still working on, which took more than 20 s on the loaded CI machine)
        stack.process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        stack.process.wait()
        return -1, stack.output()
    output = stack.output()
    stack.log.unlink(missing_ok=True)
    return stack.process.returncode, output


@pytest.fixture(scope="module")
def dev_stack() -> Iterator[DevStack]:
    stack = start_dev()
    yield stack
    code, output = stop_dev(stack)
    assert code == 0, output


# Flags that keep Chromium quiet on a machine without internet access.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if path is None:
        # `make test` installs Debian's chromium; without it these tests cannot run, and
        # must say so rather than pass or skip quietly.
        pytest.fail("Chromium is not installed: run `make test`, which installs it")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


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


def wait_for_profile(stack: DevStack, identity: str, events: int) -> dict[str, Any]:
    """The profile once it counts `events` events, asked over HTTP (a `cdp` process per look
    cost more than the look)."""
    deadline = time.monotonic() + 20
    url = f"{stack.url}/v1/profiles/{identity}"
    while time.monotonic() < deadline:
        answer = requests.get(url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
        if answer.status_code == 200 and answer.json()["event_count"] >= events:
            found: dict[str, Any] = answer.json()
            return found
        time.sleep(0.3)
    raise AssertionError(f"no profile for {identity} with {events} events")
