"""A proxy in front of `cdp dev` that loses answers: it forwards a request, lets `cdp dev`
store what it carries, and then drops the connection instead of answering, the way a mobile
network or a closing laptop does. The client cannot tell whether anything was stored, so it
sends again: what the platform must then do is store nothing twice."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from workbench.local.aws import free_port

# Hop-by-hop headers are the proxy's own business, never forwarded.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host"}


class LossyProxy:
    def __init__(self, target: str, *, lose: int = 1, path_prefix: str = "/v1/") -> None:
        """Loses the answers to the first `lose` POSTs whose path starts with `path_prefix`."""
        self.target = urlsplit(target)
        self.to_lose = lose
        self.path_prefix = path_prefix
        self.lost: list[str] = []  # paths whose answer was lost
        self.forwarded: list[str] = []  # "METHOD path" of every request forwarded
        self.posted: list[bytes] = []  # the body of every POST, as sent
        self._lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _should_lose(self, method: str, path: str) -> bool:
        with self._lock:
            self.forwarded.append(f"{method} {path}")
            if method == "POST" and path.startswith(self.path_prefix) and self.to_lose > 0:
                self.to_lose -= 1
                self.lost.append(path)
                return True
            return False

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        connection = http.client.HTTPConnection(
            self.target.hostname or "127.0.0.1", self.target.port, timeout=30
        )
        connection.request(method, path, body=body or None, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        connection.close()
        return answer.status, answer.getheaders(), data

    @contextmanager
    def running(self) -> Iterator[LossyProxy]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in _HOP_BY_HOP
                }
                path = urlsplit(self.path).path
                if self.command == "POST":
                    proxy.posted.append(body)
                status, answer_headers, data = proxy._forward(
                    self.command, self.path, headers, body
                )
                if proxy._should_lose(self.command, path):
                    self.close_connection = True  # stored, but the answer never arrives
                    return
                self.send_response(status)
                for name, value in answer_headers:
                    if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_OPTIONS = do_PUT = do_DELETE = do_GET

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
