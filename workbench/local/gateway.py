"""A local API Gateway: turns each HTTP request into an HTTP API (payload 2.0) event for the
same handler function Lambda runs, and the handler's answer back into an HTTP response.

Routes come from `infra.wiring`, so a path that is not routed in AWS is not routed here either.
Each function handles one request at a time, like one Lambda instance.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from infra.wiring import FunctionSpec
from workbench.local.invocation import LambdaContext, http_api_event
from workbench.local.worker import Requests

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API's payload limit
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# A path `cdp dev` answers itself (/health, /_dev/...): (body, query) to (status, headers, body).
FixedRoute = Callable[[bytes, str], tuple[int, dict[str, str], bytes]]


@dataclass
class RouteTarget:
    method: str
    template: str
    pattern: re.Pattern[str]
    function: FunctionSpec
    signed_in: bool = False


def compile_route(path: str) -> re.Pattern[str]:
    """`/v1/profiles/{id}` -> a regex with named groups; `{name+}` matches the rest, even
    nothing: API Gateway routes `/sourceConfig/` to `/sourceConfig/{proxy+}`."""
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            regex += f"(?P<{name[:-1]}>.*)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


class Functions:
    """The handler functions of the stack, imported on first use, one request at a time each."""

    def __init__(self, specs: tuple[FunctionSpec, ...]) -> None:
        self.specs = specs
        self.routes = [
            RouteTarget(route.method, route.path, compile_route(route.path), spec, route.signed_in)
            for spec in specs
            for route in spec.routes
        ]
        self._handlers: dict[str, Handler] = {}
        self._locks = {spec.name: threading.Lock() for spec in specs}
        self.requests = Requests()  # HTTP functions' invocations, which workers make way for

    def handler(self, spec: FunctionSpec) -> Handler:
        if spec.name not in self._handlers:
            module_name, _, attribute = spec.handler.rpartition(".")
            self._handlers[spec.name] = getattr(importlib.import_module(module_name), attribute)
        return self._handlers[spec.name]

    def match(self, method: str, path: str) -> tuple[RouteTarget, dict[str, str]] | None:
        for target in self.routes:
            found = target.pattern.match(path)
            if found is None:
                continue
            if target.method == method or (method == "OPTIONS" and target.function.browser_facing):
                return target, found.groupdict()
        return None

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(
            function_name=f"cdp-dev-{spec.name}",
            aws_request_id=str(uuid.uuid4()),
            memory_limit_in_mb=spec.memory_mb,
            timeout_seconds=spec.timeout_seconds,
        )
        with self.requests.answering() if spec.routes else nullcontext(), self._locks[spec.name]:
            return self.handler(spec)(event, context)


def make_server(
    host: str,
    port: int,
    functions: Functions,
    *,
    extra_routes: dict[tuple[str, str], FixedRoute] | None = None,
    log: Callable[[str], None] | None = None,
    authorizer: Callable[[str | None], dict[str, str] | None] = lambda _: None,
) -> ThreadingHTTPServer:
    """An HTTP server for `functions`; `extra_routes` answer fixed paths such as /health.
    `authorizer` plays API Gateway's JWT authorizer for the routes only the console's people
    may call: the claims of the `Authorization` header's token, or None (401)."""
    fixed_routes = extra_routes or {}
    log_line = log or (lambda line: print(line, file=sys.stdout, flush=True))
    templates = [target.template for target in functions.routes]

    class Gateway(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body waits for the
        # client's delayed ACK, 40 ms on every answer of a kept-alive connection.
        disable_nagle_algorithm = True
        server_version = "cdp-dev"
        sys_version = ""
        route = "(no route)"  # what the request's log line names

        def do_GET(self) -> None:
            self._handle()

        do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per request is written by _handle

        def _handle(self) -> None:
            started = time.perf_counter()
            url = urlsplit(self.path)
            self.route = f"(no route: {masked_path(url.path, templates)})"
            status = self._answer(url.path, url.query)
            elapsed = (time.perf_counter() - started) * 1000
            # The method as received (OPTIONS for a CORS preflight) and the route pattern, as
            # API Gateway's access log has it: paths and query strings carry identifiers
            # (e-mail addresses, user ids), which stay out of logs.
            log_line(f"{self.command} {self.route} {status} {elapsed:.1f} ms")

        def _answer(self, path: str, query: str) -> int:
            try:
                body = self._read_body()
            except ValueError as error:
                return self._send(400, {"content-type": "application/json"}, _message(str(error)))
            if body is None:
                self.close_connection = True
                return self._send(
                    413, {"content-type": "application/json"}, _message("Request Entity Too Large")
                )
            fixed = fixed_routes.get((self.command, path))
            if fixed is not None:
                self.route = path
                return self._fixed(fixed, path, body, query)
            found = functions.match(self.command, path)
            if found is None:
                return self._send(404, {"content-type": "application/json"}, _message("Not Found"))
            target, parameters = found
            self.route = target.template
            claims = authorizer(self.headers.get("authorization")) if target.signed_in else None
            if target.signed_in and claims is None:
                # API Gateway's own answer to a missing or invalid token: no function runs.
                return self._send(
                    401, {"content-type": "application/json"}, _message("Unauthorized")
                )
            return self._invoke(target, parameters, path, query, body=body, claims=claims)

        def _invoke(
            self,
            target: RouteTarget,
            parameters: dict[str, str],
            path: str,
            query: str,
            *,
            body: bytes,
            claims: dict[str, str] | None,
        ) -> int:
            event = http_api_event(
                method=self.command,
                raw_path=path,
                query=query,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                route_key=f"{target.method} {target.template}",
                path_parameters=parameters,
                protocol="http",
                claims=claims,
            )
            try:
                answer = functions.invoke(target.function, event)
            except Exception as error:  # what API Gateway does when a function crashes
                return self._failed(target.function.name, error)
            content = answer.get("body") or ""
            data = base64.b64decode(content) if answer.get("isBase64Encoded") else content.encode()
            headers = {
                name.lower(): str(value) for name, value in (answer.get("headers") or {}).items()
            }
            for cookie in answer.get("cookies") or []:
                headers.setdefault("set-cookie", cookie)
            return self._send(int(answer.get("statusCode", 200)), headers, data)

        def _fixed(self, route: FixedRoute, path: str, body: bytes, query: str) -> int:
            try:
                status, headers, data = route(body, query)
            except Exception as error:  # answered, not a dropped connection
                return self._failed(path, error)
            return self._send(status, headers, data)

        def _failed(self, what: str, error: Exception) -> int:
            """A 500, and the error's type on stderr: its message may quote the request
            (--verbose shows the function's log)."""
            print(f"  {what} failed: {type(error).__name__}", file=sys.stderr, flush=True)
            return self._send(
                500, {"content-type": "application/json"}, _message("Internal Server Error")
            )

        def _read_body(self) -> bytes | None:
            if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                return self._read_chunked()
            length = int(self.headers.get("content-length") or 0)
            if length < 0:
                raise ValueError("invalid Content-Length")
            if length > MAX_BODY_BYTES:
                return None
            return self.rfile.read(length) if length else b""

        def _read_chunked(self) -> bytes | None:
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY_BYTES:
                    return None

        def _send(self, status: int, headers: dict[str, str], content: bytes) -> int:
            self.send_response(status)
            for name, value in headers.items():
                if name not in {"content-length", "connection", "transfer-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)
            return status

    server = ThreadingHTTPServer((host, port), Gateway)
    server.daemon_threads = True
    return server


_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{0,39}")


def masked_path(path: str, templates: list[str]) -> str:
    """A path no route matched, with what may identify someone masked, so that a mistyped
    route is still plain to see: a segment where a route of the same beginning takes a
    parameter (`/v1/profiles/{identity}/…`) becomes `*`, as does any that is not a plain word
    (a digit, `@`, `:`, `%`, a dot, or long). `/v1/profiles/user_id:42/evnts` ->
    `/v1/profiles/*/evnts`."""
    if len(path) > 512:
        return "(a path too long to show)"
    parts = path.split("/")
    shapes = [template.split("/") for template in templates]
    known = {part for shape in shapes for part in shape if not part.startswith("{")}
    shown = []
    for index, part in enumerate(parts):
        parameter = any(
            len(shape) > index
            and shape[index].startswith("{")
            and all(s.startswith("{") or s == p for s, p in zip(shape[:index], parts, strict=False))
            for shape in shapes
        )
        plain = part in known or _WORD.fullmatch(part)
        shown.append(part if not part or (not parameter and plain) else "*")
    return "/".join(shown)


def _message(text: str) -> bytes:
    return json.dumps({"message": text}).encode()
