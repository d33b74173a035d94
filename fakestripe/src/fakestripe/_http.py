"""The HTTP front end: a threading server whose handler passes each request to a callable,
the response type, case-insensitive headers and the idempotency store."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class IdempotencyStore:
    """Stored results per (api key, Idempotency-Key), like Stripe's 24h idempotency window.

    Entries are flat tuples of strings/bytes so the cyclic GC can ignore them.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.lock = threading.Lock()
        self.capacity = capacity
        self.done: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()
        self.running: set[tuple[str, str]] = set()

    def begin(self, key: tuple[str, str], fingerprint: bytes) -> Response | str | None:
        with self.lock:
            found = self.done.get(key)
            if found is not None:
                fp, status, header_items, body, req_id = found
                if fp != fingerprint:
                    return "mismatch"
                headers = dict(header_items)
                headers["Idempotent-Replayed"] = "true"
                headers["Original-Request"] = req_id
                return Response(status, headers, body)
            if key in self.running:
                return "running"
            self.running.add(key)
            return None

    def finish(
        self, key: tuple[str, str], fingerprint: bytes, resp: Response | None, req_id: str
    ) -> None:
        with self.lock:
            self.running.discard(key)
            if resp is not None:
                entry = (fingerprint, resp.status, tuple(resp.headers.items()), resp.body, req_id)
                self.done[key] = entry
                while len(self.done) > self.capacity:
                    self.done.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.done.clear()


class Headers(dict[str, str]):
    """Case-insensitive header lookup."""

    def __init__(self, raw: dict[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in raw.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "fakestripe"
    sys_version = ""
    server: HttpServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = Headers(dict(self.headers.items()))
        resp = self.server.handle(method, self.path, headers, body)
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")


#: ``handle(method, path, headers, body)`` answers one request.
Handle = Callable[[str, str, Mapping[str, str], bytes], Response]


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], handle: Handle) -> None:
        self.handle = handle
        super().__init__(addr, RequestHandler)
