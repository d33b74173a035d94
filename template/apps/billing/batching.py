"""Sending stored webhook events to the workers in batches, one sender thread per web process
(both modes).

Why: a webhook request verifies, stores and queues its event. Queueing it as a Celery task of
its own (`delay`: Celery builds a message, kombu publishes it to the broker) took about 30% of
the request's CPU, the largest single part of ingest (`make bench` prints the profile). Under
load many events arrive within milliseconds of each other; here a request only hands the
stored event's id to its process's `BatchSender`, whose thread sends what has gathered as one
task. The request still answers once its event is committed, and never waits on the broker.

Nothing is lost by answering Stripe before the message is on the broker: the event is stored
first. If the broker is down, the thread keeps the ids and tries again with growing delays; if
the process dies first (a crash, SIGKILL), the periodic sweep (`tasks.retry_webhook_events`)
finds the events that were never processed and queues them again. Without a broker (a fresh
project, the tests) no thread is started: `tasks.queue_webhook_event` applies the event
in-process instead.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

#: Most ids in one message: a worker applies them one after another.
BATCH_SIZE = 50
#: At most one message every this many seconds per process, unless BATCH_SIZE ids are
#: waiting: an event arriving after a quiet spell is sent at once; under load, the ids arriving
#: meanwhile make up the next batch (up to that much latency added to an event's processing,
#: none to the request). A message costs the web process ~1.5 ms of CPU whatever its size:
#: at 25 ms, sending took ~7% of a process's CPU at 1,000 events/s.
LINGER_SECONDS = 0.1
#: Growing delays between attempts while the broker cannot be reached.
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0
#: Ids kept while they cannot be sent; beyond that the oldest are left to the periodic sweep
#: (their events are stored), so an outage cannot grow a web process without bound.
MAX_KEPT = 10_000
#: How long a process that exits waits to send what it holds.
EXIT_TIMEOUT_SECONDS = 5.0


class BatchSender:
    """Collects ids from any thread of this process and calls `send(ids)` from its own thread,
    at most BATCH_SIZE ids a call. `send` raises when the ids were not sent: they are kept,
    in order, and sent again later."""

    def __init__(self, send: Callable[[list[int]], object], *, name: str) -> None:
        self._send = send
        self._name = name
        self._ready = threading.Condition()
        self._pending: list[int] = []
        self._sending = 0  # ids taken by the thread and not yet sent
        self._last_taken = 0.0  # when the thread last took a batch (time.monotonic())
        self._owner_pid: int | None = None  # the process whose thread serves this sender

    def add(self, item: int) -> None:
        with self._ready:
            if self._owner_pid != os.getpid():
                # First use in this process, or a forked child: the parent's thread and ids
                # stay the parent's.
                self._owner_pid = os.getpid()
                self._pending, self._sending = [], 0
                threading.Thread(target=self._run, name=f"send {self._name}", daemon=True).start()
                atexit.register(self.flush, EXIT_TIMEOUT_SECONDS)
            self._pending.append(item)
            self._trim()
            if len(self._pending) in (1, BATCH_SIZE):  # what the thread waits for
                self._ready.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every id added so far has been sent; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._pending or self._sending:
                left = deadline - time.monotonic()
                if left <= 0 or self._owner_pid != os.getpid():
                    return False
                self._ready.wait(left)
        return True

    def _run(self) -> None:
        failures = 0
        while True:
            batch = self._next_batch()
            try:
                self._send(batch)
            except Exception:
                failures += 1
                delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (failures - 1))
                logger.exception(
                    "Could not queue %d %s (attempt %d); trying again in %.1f s",
                    len(batch),
                    self._name,
                    failures,
                    delay,
                )
                self._put_back(batch)
                time.sleep(delay)
                continue
            failures = 0
            with self._ready:
                self._sending = 0
                self._ready.notify_all()

    def _next_batch(self) -> list[int]:
        with self._ready:
            while not self._pending:
                self._ready.wait()
            # A batch went out just now: let the requests arriving join this one, until it is
            # full or the linger is over.
            deadline = self._last_taken + LINGER_SECONDS
            while len(self._pending) < BATCH_SIZE and (left := deadline - time.monotonic()) > 0:
                self._ready.wait(left)
            batch, self._pending = self._pending[:BATCH_SIZE], self._pending[BATCH_SIZE:]
            self._sending = len(batch)
            self._last_taken = time.monotonic()
            return batch

    def _put_back(self, batch: list[int]) -> None:
        with self._ready:
            self._pending[:0] = batch
            self._sending = 0
            self._trim()
            self._ready.notify_all()

    def _trim(self) -> None:
        """Keep the newest MAX_KEPT ids (the caller holds the lock)."""
        if len(self._pending) > MAX_KEPT:
            dropped = len(self._pending) - MAX_KEPT
            del self._pending[:dropped]
            logger.error(
                "%d %s left to the periodic sweep: they could not be sent in time",
                dropped,
                self._name,
            )


def in_batches(ids: list[int]) -> Iterator[list[int]]:
    """`ids` in order, at most BATCH_SIZE at a time: one message each (the periodic sweeps)."""
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]


def queue_after_commit(
    event_pk: int, *, sender: BatchSender, in_process: Callable[[int], object]
) -> None:
    """Hand a stored event to the workers once the current transaction commits (at once
    outside one): to `sender`, or, with no broker (Celery runs tasks in-process), to
    `in_process` right then."""
    if current_app.conf.task_always_eager:
        transaction.on_commit(lambda: in_process(event_pk))
    else:
        transaction.on_commit(lambda: sender.add(event_pk))
