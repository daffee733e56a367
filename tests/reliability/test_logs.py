"""Nothing secret or personal in logs: a person goes through every function that logs — the
collector, a refused message, a form, the preference center, an e-mail webhook, the profile
builder and publisher, the Profile API, an unexpected failure, export and erasure — with every
logger at DEBUG, and the captured output (logs and metrics alike) is searched for what they
sent and the keys that were used."""

from __future__ import annotations

import importlib
import io
import json
import re
from typing import Any

import pytest

from cdp.storage.profiles import ProfileReader
from tests.conftest import IDENTITY_SECRET
from tests.reliability.conftest import (
    HTTP_FUNCTIONS,
    WEBHOOK_SECRET,
    Stack,
    basic,
    bearer,
    signature_of,
)

EMAIL = "Ada.Lovelace.7f3a@Example.org"
USER_ID = "customer-7f3a-0042"
ANONYMOUS_ID = "anon-7f3a-cookie"
PHONE = "+31 6 5550 1234"
TRAITS = {"email": EMAIL, "phone": PHONE, "first_name": "Augusta-7f3a", "city": "Marlow-7f3a"}
LOGGING_FUNCTIONS = ("profile_builder", "publisher")


def _loggers() -> list[Any]:
    modules = [spec.handler.rpartition(".")[0] for spec in HTTP_FUNCTIONS]
    modules += [f"functions.{name}.handler" for name in LOGGING_FUNCTIONS]
    return [importlib.import_module(module).logger for module in modules]


def _walk_the_person_through(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    write, secret = basic(stack.keys.write), bearer(stack.keys.secret)
    sent = [
        {"type": "identify", "userId": USER_ID, "anonymousId": ANONYMOUS_ID, "traits": TRAITS},
        {"type": "track", "userId": USER_ID, "event": "Order Completed",
         "properties": {"revenue": 42.5, "shipping_address": "Ockham Park 7f3a"},
         "context": {"ip": "198.51.100.73", "consent": {"categoryPreferences": {
             "analytics": True, "marketing": True}}}},
        {"type": "track", "userId": USER_ID, "event": "X", "timestamp": "1800-01-01T00:00:00Z"},
    ]  # fmt: skip
    answer = stack.request("POST", "/v1/batch", body={"batch": sent}, headers=write)
    assert answer.status == 200
    assert answer.json()["rejected"], answer.body
    broken = f'{{"userId": "{USER_ID}", "email": "{EMAIL}"'
    json_headers = write | {"content-type": "application/json"}
    refused = stack.request("POST", "/v1/track", body=broken, headers=json_headers)
    assert refused.status == 400
    submission = {"anonymousId": ANONYMOUS_ID, "answers": {"children": 3, "home": "own"},
                  "consent": {"marketing": True}, "submissionId": "logs-0001"}  # fmt: skip
    assert stack.request("POST", "/v1/forms/household/submissions", body=submission,
                         headers=write).status == 200  # fmt: skip
    preferences = {"userId": USER_ID, "signature": signature_of(USER_ID),
                   "consent": {"marketing": False}, "submissionId": "logs-0002"}  # fmt: skip
    assert stack.request("PUT", "/v1/preferences", body=preferences, headers=write).status == 200
    mail = json.dumps([{"email": EMAIL, "event": "opened", "timestamp": 1795424400, "id": "m1"}])
    assert stack.request("POST", "/v1/webhooks/mailer", body=mail.encode(),
                         headers=stack.webhook_headers(mail.encode())).status == 200  # fmt: skip
    stack.pipeline.run()
    by_email = f"/v1/profiles/email:{EMAIL.replace('@', '%40')}"
    assert stack.request("GET", by_email, headers=secret).status == 200
    assert stack.request("GET", f"{by_email}/events", headers=secret).status == 200
    assert stack.request("GET", "/v1/segments/parents/members", headers=secret).status == 200
    console = bearer(stack.console_token)  # an admin: sees the person whole, audited
    assert stack.request("GET", "/console/api/search", headers=console,
                         query={"q": EMAIL}).status == 200  # fmt: skip
    assert stack.request("GET", f"/console/api{by_email[3:]}", headers=console).status == 200
    assert stack.request("GET", f"/console/api{by_email[3:]}/events",
                         headers=console).status == 200  # fmt: skip
    with monkeypatch.context() as patch:  # a failure whose message quotes the person

        def fail(*_: Any, **__: Any) -> None:
            raise ValueError(f"no profile for {EMAIL} ({PHONE})")

        patch.setattr(ProfileReader, "find", fail)
        assert stack.request("GET", by_email, headers=secret).status == 500
    assert stack.request("GET", f"{by_email}/export", headers=secret).status == 200
    assert stack.request("DELETE", by_email, headers=secret).status in (200, 202)
    stack.pipeline.run()
    wrong = {"authorization": "Bearer " + stack.keys.wrong}
    assert stack.request("GET", by_email, headers=wrong).status == 401


def test_nothing_secret_or_personal_is_logged(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    loggers = {logger: logger.log_level for logger in _loggers()}
    captured = io.StringIO()  # the loggers' own output (their stream was fixed at import)
    streams = {logger: logger.registered_handler.setStream(captured) for logger in loggers}
    capfd.readouterr()  # what the fixture's set-up wrote
    try:
        for logger in loggers:
            logger.setLevel("DEBUG")
        _walk_the_person_through(stack, monkeypatch)
    finally:
        for logger, level in loggers.items():
            logger.setLevel(level)
            logger.registered_handler.setStream(streams[logger])
    out, err = capfd.readouterr()  # metrics, and anything printed
    logged = captured.getvalue() + out + err

    lines = [line for line in logged.splitlines() if line.strip()]
    services = {json.loads(line).get("service") for line in lines if line.startswith("{")}
    assert {spec.name for spec in HTTP_FUNCTIONS} | set(LOGGING_FUNCTIONS) <= services
    (failure,) = [line for line in lines if '"unexpected error"' in line]
    assert json.loads(failure)["error"] == "ValueError"

    local_part = EMAIL.split("@", maxsplit=1)[0].lower()
    personal = [EMAIL, EMAIL.lower(), local_part, USER_ID, ANONYMOUS_ID, PHONE, "198.51.100.73",
                *TRAITS.values()]  # fmt: skip
    secrets = [stack.keys.write, stack.keys.secret, stack.keys.wrong, WEBHOOK_SECRET,
               IDENTITY_SECRET, signature_of(USER_ID)]  # fmt: skip
    leaks = [value for value in personal + secrets if value.lower() in logged.lower()]
    assert leaks == [], f"logged: {leaks}"
    # and nothing that looks like an address, key or digest of one
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", logged)
    assert not re.search(r"\b(wk|sk)_[A-Za-z0-9_-]{20,}", logged)
