"""Contract servers: a vendor's API played locally, as its reference describes it.

Each vendor's contract (`tests/contracts/<vendor>.py`) declares its routes; a route checks the
request as the vendor would (method, path, authentication, the body against the JSON schema
written from the vendor's published reference, with the reference's address beside it),
keeps the state the vendor keeps (list members, tags, contacts), and answers as the vendor
answers, errors included. Tests can make the next answers rate-limit or fail
(`ContractServer.fail_next`) and read what was received (`received`, `state`).

A request that breaks the contract is answered 400 with the reasons, as the vendor would, and
recorded in `violations`: a connector test asserts there are none.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Received, dict[str, str]], Answer]  # the request, the path's parameters


@dataclass
class Route:
    method: str
    pattern: str  # a path with {name} parameters: /3.0/lists/{list_id}/members/{hash}
    handler: Handler
    schema: dict[str, Any] | None = None  # the body's JSON schema, from the vendor's reference

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern)) + "$"
        found = re.match(regex, path)
        return found.groupdict() if found else None


class ContractServer:
    """A vendor's API on 127.0.0.1. Subclasses set `routes` and `authenticate`."""

    routes: list[Route]

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.violations: list[str] = []
        self._failures: list[Answer] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # What a vendor checks before anything else; None when the credentials are good.
    def authenticate(self, request: Received) -> Answer | None:
        return None

    def refused(self, request: Received, reasons: list[str]) -> Answer:
        """How the vendor answers a request that breaks its contract."""
        return Answer(400, {"errors": reasons})

    def clear(self) -> None:
        """Forgets what was received, the violations and the failures still to come: the start
        of each contract's `reset` (a running server serves the next test: stopping one takes
        half a second). Takes no lock: call it under the contract's own where it holds one."""
        self.received.clear()
        self.violations.clear()
        self._failures.clear()

    def fail_next(self, answer: Answer, times: int = 1) -> None:
        """The next `times` requests are answered `answer` (a 429 with Retry-After, a 503)."""
        with self._lock:
            self._failures.extend([answer] * times)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @contextmanager
    def running(self) -> Iterator[ContractServer]:
        contract = self

        class _Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = Received(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {name.lower(): value for name, value in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                answer = contract.answer(request)
                body = answer.body
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                if body is None:
                    data = b""
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if data:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        # Polled every 50 ms for the stop (the default half second would slow every test).
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            if self._failures:
                return self._failures.pop(0)
            refusal = self.authenticate(request)
            if refusal is not None:
                return refusal
            for route in self.routes:
                parameters = route.match(request.method, request.path)
                if parameters is None:
                    continue
                reasons = self._check(route, request)
                if reasons:
                    self.violations.extend(reasons)
                    return self.refused(request, reasons)
                return route.handler(request, parameters)
            reason = f"{request.method} {request.path} is not an endpoint of this API"
            self.violations.append(reason)
            return Answer(404, {"errors": [reason]})

    @staticmethod
    def _check(route: Route, request: Received) -> list[str]:
        if route.schema is None:
            return []
        try:
            body = request.json()
        except ValueError:
            return ["the body is not JSON"]
        validator = jsonschema.Draft202012Validator(route.schema)
        return [
            f"{'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}"
            for error in validator.iter_errors(body)
        ]
