"""A small HTTP client for the API (standard library only), raising `CliError` with the API's
own message when a request is refused."""

from __future__ import annotations

import base64
import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from workbench.defaults import DEV_SECRET_KEY, DEV_URL

CONFIG_FILE = Path.home() / ".config" / "cdp" / "config.json"


class CliError(Exception):
    """Printed to the user as it is; the command exits with status 1."""


@dataclass(frozen=True)
class Target:
    url: str
    secret_key: str

    @classmethod
    def resolve(cls, url: str | None, secret_key: str | None, config: str | None) -> Target:
        """Flags, then the environment (CDP_URL, CDP_SECRET_KEY), then the config file
        (CDP_CONFIG or ~/.config/cdp/config.json), then `cdp dev`'s defaults."""
        path = Path(config or os.environ.get("CDP_CONFIG") or CONFIG_FILE)
        stored: dict[str, Any] = {}
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
            except json.JSONDecodeError as error:
                raise CliError(f"{path} is not valid JSON: {error.msg}") from None
        return cls(
            url=(url or os.environ.get("CDP_URL") or stored.get("url") or DEV_URL).rstrip("/"),
            secret_key=(
                secret_key
                or os.environ.get("CDP_SECRET_KEY")
                or stored.get("secret_key")
                or DEV_SECRET_KEY
            ),
        )


class Api:
    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        self.target = target
        self.timeout = timeout

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, query=query)

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body=body)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body=body if body is not None else {})

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        status, answer = self.send(method, path, body=body, query=query, headers=headers)
        if status >= 400:
            message = answer.get("message") if isinstance(answer, dict) else None
            raise CliError(f"{method} {path}: {status} {message or answer}")
        return answer

    def text(self, path: str, **query: Any) -> tuple[str, dict[str, str]]:
        """A GET answered with text (CSV), and the answer's headers (names in lower case),
        retried on network errors, 429 and 5xx."""
        status, headers, data = with_retries(lambda: self.exchange("GET", path, query=query))
        if status >= 400:
            answer = _decode(data)
            message = answer.get("message") if isinstance(answer, dict) else None
            raise CliError(f"GET {path}: {status} {message or answer}")
        return data.decode("utf-8"), headers

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """The status and the decoded answer; network failures raise `CliError`."""
        status, _, data = self.exchange(method, path, body=body, query=query, headers=headers)
        return status, _decode(data)

    def exchange(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """The status, headers (names in lower case) and body of an answer; network failures
        raise `CliError`."""
        url = self.target.url + path
        pairs = {k: v for k, v in (query or {}).items() if v is not None}
        if pairs:
            url += "?" + urlencode(pairs)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (the API the user pointed us at)
            url,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.target.secret_key}",
                "Content-Type": "application/json",
                "User-Agent": "cdp-cli",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, _headers(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, _headers(error.headers), error.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise CliError(f"cannot reach {self.target.url}: {reason}") from None


Answer = TypeVar("Answer", bound=tuple[Any, ...])


def with_retries(send: Callable[[], Answer], attempts: int = 8) -> Answer:
    """Retry a sending function (its answer starts with the status) on network errors, 429
    and 5xx, with jittered backoff."""
    answer: Answer | None = None
    for attempt in range(attempts):
        try:
            answer = send()
        except CliError:
            if attempt + 1 == attempts:
                raise
            answer = None
        status = answer[0] if answer is not None else 0
        if answer is not None and status and status != 429 and status < 500:
            return answer
        if attempt + 1 < attempts:
            time.sleep(random.uniform(0, min(30.0, 0.5 * 2**attempt)))  # noqa: S311
    assert answer is not None  # the last attempt answered, or raised
    return answer


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def identity_path(identity: str) -> str:
    return quote(identity, safe="")


def _headers(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data) if data else {}
    except json.JSONDecodeError:
        return data.decode("utf-8", "replace")
