from __future__ import annotations

# Webhook delivery: signed HTTP POSTs from a background thread, and in-process listeners.
import heapq
import hmac
import http.client
import json
import random
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from ._store import Obj, new_id, rand_str

Callback = Callable[[bytes, dict[str, str]], int]


def new_secret() -> str:
    return f"whsec_{rand_str(32)}"


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """``Stripe-Signature`` header value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt of one event to one target."""

    event_id: str
    event_type: str
    target: str  # webhook endpoint id (we_...) or listener id (listener_...)
    status: int  # HTTP status; 0 when the connection failed or the callback raised
    attempt: int
    at: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "target": self.target,
            "status": self.status,
            "attempt": self.attempt,
            "at": self.at,
            "error": self.error,
            "ok": self.ok,
        }


@dataclass
class _Listener:
    id: str
    callback: Callback
    enabled_events: tuple[str, ...]
    secret: str


@dataclass
class _Job:
    event_id: str
    event_type: str
    body: bytes
    target: str
    secret: str
    url: str | None = None
    listener: _Listener | None = None
    attempt: int = 0
    seq: int = field(default=0)


class Dispatcher:
    def __init__(
        self,
        retry_base: float = 0.05,
        max_attempts: int = 8,
        timeout: float = 5.0,
        on_delivered: Callable[[str], None] | None = None,
        log_size: int = 10000,
    ) -> None:
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.on_delivered = on_delivered
        self.cond = threading.Condition()
        self.listeners: dict[str, _Listener] = {}
        self.held = False
        self.held_jobs: list[_Job] = []
        self.order: tuple[str, int | None] | None = None
        self.dup_next = 0
        self.http_queue: list[tuple[float, int, _Job]] = []
        self.listener_queue: deque[_Job] = deque()
        self.in_flight = 0
        self.log: deque[Delivery] = deque(maxlen=log_size)
        self._seq = 0
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="fakestripe-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self.cond:
            self._stop = True
            self.cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None

    def reset(self) -> None:
        with self.cond:
            self.listeners.clear()
            self.held = False
            self.held_jobs.clear()
            self.order = None
            self.dup_next = 0
            self.http_queue.clear()
            self.listener_queue.clear()
            self.log.clear()

    def drop_queued(self) -> None:
        """Forget deliveries not made yet (held ones too); listeners and the log stay."""
        with self.cond:
            self.held_jobs.clear()
            self.http_queue.clear()
            self.listener_queue.clear()

    # -- publishing (called with the state lock held) --------------------------------
    def publish(self, event: Obj, targets: list[tuple[str, str, str]]) -> None:
        etype = event["type"]
        with self.cond:
            listeners = [
                lst
                for lst in self.listeners.values()
                if "*" in lst.enabled_events or etype in lst.enabled_events
            ]
            event["pending_webhooks"] = len(targets) + len(listeners)
            if not targets and not listeners:
                return
            body = json.dumps(event, indent=2).encode()
            jobs = [
                _Job(event["id"], etype, body, tid, secret, url=url) for tid, url, secret in targets
            ]
            jobs += [
                _Job(event["id"], etype, body, lst.id, lst.secret, listener=lst)
                for lst in listeners
            ]
            if self.dup_next > 0:
                self.dup_next -= 1
                jobs = [j for job in jobs for j in (job, _Job(**{**job.__dict__}))]
            if self.held:
                self.held_jobs.extend(jobs)
            else:
                self._enqueue(jobs)

    def _enqueue(self, jobs: list[_Job]) -> None:
        now = time.monotonic()
        for job in jobs:
            if job.listener is not None:
                self.listener_queue.append(job)
            else:
                self._seq += 1
                heapq.heappush(self.http_queue, (now, self._seq, job))
        self.cond.notify_all()

    # -- test controls -------------------------------------------------------------
    def hold(self) -> None:
        with self.cond:
            self.held = True

    def release(self, order: str | None = None, seed: int | None = None) -> int:
        with self.cond:
            jobs = self.held_jobs
            self.held_jobs = []
            self.held = False
            mode = (order, seed) if order is not None else self.order
            if mode is not None:
                jobs = _reordered(jobs, mode[0], mode[1])
            self._enqueue(jobs)
            return len(jobs)

    def reorder(self, mode: str | None, seed: int | None = None) -> None:
        if mode not in (None, "none", "reverse", "shuffle"):
            raise ValueError("reorder mode must be 'reverse', 'shuffle' or None")
        with self.cond:
            self.order = None if mode in (None, "none") else (mode, seed)

    def duplicate_next(self, n: int = 1) -> None:
        with self.cond:
            self.dup_next = max(0, n)

    def add_listener(
        self, callback: Callback, enabled_events: tuple[str, ...], secret: str | None = None
    ) -> _Listener:
        lst = _Listener(
            new_id("listener", 14), callback, tuple(enabled_events), secret or new_secret()
        )
        with self.cond:
            self.listeners[lst.id] = lst
        return lst

    def remove_listener(self, key: str) -> bool:
        with self.cond:
            for lid, lst in list(self.listeners.items()):
                if key in (lid, lst.secret):
                    del self.listeners[lid]
                    return True
        return False

    def wait_idle(self, timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(
                lambda: not self.http_queue and self.in_flight == 0, timeout=timeout
            )

    def pending(self) -> dict[str, int]:
        with self.cond:
            return {
                "held": len(self.held_jobs),
                "http_queued": len(self.http_queue),
                "in_flight": self.in_flight,
                "listener_queued": len(self.listener_queue),
            }

    def deliveries(self) -> list[Delivery]:
        with self.cond:
            return list(self.log)

    # -- listener delivery (on the caller's thread) ----------------------------------
    def deliver(self, max_rounds: int = 10) -> list[Delivery]:
        made: list[Delivery] = []
        failed: list[_Job] = []
        try:
            for _ in range(max_rounds):
                with self.cond:
                    batch = list(self.listener_queue)
                    self.listener_queue.clear()
                if not batch:
                    break
                for n, job in enumerate(batch):
                    assert job.listener is not None
                    job.attempt += 1
                    headers = _headers(job)
                    try:
                        status = int(job.listener.callback(job.body, headers))
                        error = None
                    except BaseException as exc:
                        record = self._record(job, 0, repr(exc))
                        made.append(record)
                        with self.cond:
                            # keep the failing event and the rest of the batch queued
                            rest = batch[n:] if job.attempt < self.max_attempts else batch[n + 1 :]
                            self.listener_queue.extendleft(reversed(rest))
                        raise
                    record = self._record(job, status, error)
                    made.append(record)
                    if not record.ok and job.attempt < self.max_attempts:
                        failed.append(job)
        finally:
            if failed:
                with self.cond:
                    self.listener_queue.extendleft(reversed(failed))
        return made

    # -- HTTP delivery (background thread) ---------------------------------------------
    def _run(self) -> None:
        while True:
            with self.cond:
                while True:
                    if self._stop:
                        return
                    if self.http_queue:
                        wait = self.http_queue[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self.cond.wait(wait)
                    else:
                        self.cond.wait()
                _, _, job = heapq.heappop(self.http_queue)
                self.in_flight += 1
            try:
                job.attempt += 1
                status, error = self._post(job)
                record = self._record(job, status, error)
                with self.cond:
                    if not record.ok and job.attempt < self.max_attempts:
                        delay = self.retry_base * (2 ** (job.attempt - 1))
                        self._seq += 1
                        heapq.heappush(self.http_queue, (time.monotonic() + delay, self._seq, job))
            finally:
                with self.cond:
                    self.in_flight -= 1
                    self.cond.notify_all()

    def _post(self, job: _Job) -> tuple[int, str | None]:
        assert job.url is not None
        parts = urllib.parse.urlsplit(job.url)
        conn_cls = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout)
            try:
                conn.request("POST", path, body=job.body, headers=_headers(job))
                resp = conn.getresponse()
                resp.read()
                return resp.status, None
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            return 0, repr(exc)

    def _record(self, job: _Job, status: int, error: str | None) -> Delivery:
        record = Delivery(
            job.event_id, job.event_type, job.target, status, job.attempt, time.time(), error
        )
        with self.cond:
            self.log.append(record)
        if record.ok and self.on_delivered is not None:
            self.on_delivered(job.event_id)
        return record


def _headers(job: _Job) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Stripe-Signature": sign(job.body, job.secret),
        "Cache-Control": "no-cache",
        "Accept": "*/*; q=0.5, application/xml",
    }


def _reordered(jobs: list[_Job], mode: str, seed: int | None) -> list[_Job]:
    if mode == "reverse":
        return list(reversed(jobs))
    if mode == "shuffle":
        out = list(jobs)
        random.Random(seed).shuffle(out)
        return out
    return jobs
