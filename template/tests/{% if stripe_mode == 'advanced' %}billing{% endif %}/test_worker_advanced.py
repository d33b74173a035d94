"""A real `celery -A config worker` on Redis applies the events posted to /djstripe/webhook/,
and a worker killed with SIGKILL in the middle of an event loses nothing: a second worker, with
a short visibility timeout, gets the killed worker's unacknowledged messages back from Redis and
finishes. The end state is exact: every event applied once, Stripe's state, one email each.

Needs PostgreSQL (the workers and the test share the database: DATABASE_URL) and Redis
(REDIS_URL; this test uses database 11 and a queue of its own, and removes its keys).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from django.conf import settings
from django.core import mail
from django.db import connection, connections, transaction
from djstripe.models import Event, WebhookEventTrigger

from apps.billing import batching
from apps.billing.emails import BillingEmail
from apps.billing.models import Subscription, SubscriptionMetadata, WebhookEvent
from apps.billing.services import lock_stripe_object
from apps.billing.tasks import webhook_batches
from config.celery import app as celery_app
from tests.celery_broker import queued_task
from tests.concurrency import needs_postgresql

from . import factories

REDIS_URL = os.environ.get("REDIS_URL", "")
#: This test's own Redis database (other suites may use the same server at the same time).
REDIS_DB = 11

pytestmark = [
    needs_postgresql,
    pytest.mark.skipif(
        not REDIS_URL,
        reason="REDIS_URL is not set: set it (e.g. redis://127.0.0.1:6379/0) to run a worker",
    ),
    pytest.mark.django_db(transaction=True),
]


def drop_broker_connections() -> None:
    """Forget the broker connections Celery keeps for the life of the process, so the next
    publish connects to the broker in force (what Celery does itself in a forked child)."""
    from kombu import pools

    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker() -> Iterator[dict[str, str]]:
    """This test process publishes to a queue of its own on the real Redis; the queue's keys
    (and its messages left unacknowledged, if the test failed) are removed afterwards."""
    import redis

    url = urlsplit(REDIS_URL)._replace(path=f"/{REDIS_DB}").geturl()
    queue = f"billing-worker-test-{uuid.uuid4().hex}"
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager")}
    saved["task_default_queue"] = celery_app.conf.task_default_queue
    celery_app.conf.update(broker_url=url, task_always_eager=False, task_default_queue=queue)
    drop_broker_connections()
    client = redis.Redis.from_url(url)
    try:
        yield {"url": url, "queue": queue}
    finally:
        drop_broker_connections()
        celery_app.conf.update(saved)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        for tag in unacked_tags(client, queue):
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
        client.close()


def unacked_tags(client: Any, queue: str) -> list[bytes]:
    """Delivery tags of this queue's messages that a worker took and has not acknowledged."""
    tags = []
    for tag, saved in client.hgetall("unacked").items():
        _message, _exchange, routing_key = json.loads(saved)
        if routing_key == queue:
            tags.append(tag)
    return tags


def queued(client: Any, queue: str) -> int:
    """Messages waiting in the queue (kombu keeps one Redis list per priority step)."""
    return sum(client.llen(key) for key in client.scan_iter(match=f"{queue}*"))


def queued_tasks(client: Any, queue: str) -> list[tuple[str, list[Any]]]:
    """(task name, args) of each message waiting in the queue."""
    return [
        queued_task(raw)
        for key in client.scan_iter(match=f"{queue}*")
        for raw in client.lrange(key, 0, -1)
    ]


class Worker:
    """A `celery -A config worker` process (and its pool processes) of this test."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--queues",
                env["BILLING_TEST_WORKER_QUEUE"],
                "--concurrency",
                "2",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--hostname",
                f"{name}@%h",
                "--loglevel",
                "INFO",
            ],
            cwd=settings.BASE_DIR,
            env={**os.environ, **env, "PGAPPNAME": name},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool processes die with it
        )

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes at once, as when a machine dies."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Celery's warm shutdown: finish the running tasks, then exit."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.process.poll() is None, f"{worker.name} exited:\n{worker.output()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{worker.output()}"
        time.sleep(0.1)


def waiting_on_the_held_lock(name: str) -> bool:
    """A database session of worker `name` waits on a Stripe object's lock (an advisory lock):
    it is inside an event's transaction, blocked before dj-stripe reads Stripe."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND wait_event_type = 'Lock' "
            "AND wait_event = 'advisory'",
            [name],
        )
        return cursor.fetchone()[0] > 0


class HeldLock:
    """Another session holding the lock of one Stripe object until released."""

    def __init__(self, stripe_id: str) -> None:
        self.taken, self.released = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, args=(stripe_id,))
        self.thread.start()
        assert self.taken.wait(timeout=10)

    def _hold(self, stripe_id: str) -> None:
        try:
            with transaction.atomic():
                lock_stripe_object(stripe_id)
                self.taken.set()
                self.released.wait(timeout=120)
        finally:
            connections.close_all()

    def release(self) -> None:
        self.released.set()
        self.thread.join(timeout=30)


def test_a_worker_killed_mid_event_loses_nothing(
    tmp_path, broker, django_user_model, stripe_fake, catalog, monkeypatch
):
    import redis

    # One event a message: with batches the held event could come first in both pool
    # processes' batches and nothing would be applied before the kill. (The basic suite's
    # worker test kills a worker in the middle of real batches.)
    monkeypatch.setattr(batching, "BATCH_SIZE", 1)

    redis_client = redis.Redis.from_url(broker["url"])
    options = {"api_key": stripe_fake.api_key}
    subscriptions = [
        factories.stripe_subscription(
            user=django_user_model.objects.create_user(email=f"killed{n}@example.com"),
            plan=catalog["pro"],
        )
        for n in range(5)
    ]
    stripe.Subscription.modify(subscriptions[0].id, cancel_at_period_end=True, **options)
    stripe.Subscription.cancel(subscriptions[1].id, **options)
    factories.fail_next_payments(subscriptions[2].customer)
    stripe_fake.advance(days=31)  # renewals: some paid, one failed (an email)
    stripe_fake.deliver()  # posted to /djstripe/webhook/: stored, and queued on Redis
    assert webhook_batches.flush(timeout=10)  # in batches, by this process's sender thread
    total = WebhookEvent.objects.count()
    assert total == len(stripe_fake.delivered_event_ids())
    batches = queued_tasks(redis_client, broker["queue"])
    assert {name for name, _ in batches} == {"apps.billing.tasks.process_webhook_events"}
    assert sorted(pk for _, [pks] in batches for pk in pks) == sorted(
        WebhookEvent.objects.values_list("pk", flat=True)
    )  # each stored event queued once
    assert not Event.objects.exists()  # nothing is applied in the request

    env = {
        "DJANGO_SETTINGS_MODULE": "tests.billing.worker_settings",
        "DATABASE_URL": database_url(),
        "BILLING_TEST_WORKER_BROKER_URL": broker["url"],
        "BILLING_TEST_WORKER_QUEUE": broker["queue"],
        "BILLING_TEST_WORKER_STRIPE_API_BASE": stripe_fake.url,
    }
    # Hold the lock of the last subscription: the first worker stops inside that
    # subscription's created event (its transaction open, its message unacknowledged).
    held = HeldLock(subscriptions[-1].id)
    first = Worker(
        "billing-test-worker-1", {**env, "CELERY_VISIBILITY_TIMEOUT": "3600"}, tmp_path / "1.log"
    )
    try:
        wait_for(
            lambda: (
                waiting_on_the_held_lock(first.name)
                and WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).exists()
            ),
            timeout=90,
            what="the first worker to apply events and stop at the held one",
            worker=first,
        )
        first.kill()
    finally:
        held.release()
        first.stop()
    applied_before = WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).count()
    assert 0 < applied_before < total
    assert unacked_tags(redis_client, broker["queue"])  # what it held is not lost
    assert not WebhookEvent.objects.filter(attempts__gt=1).exists()  # its attempt rolled back

    second = Worker(
        "billing-test-worker-2", {**env, "CELERY_VISIBILITY_TIMEOUT": "2"}, tmp_path / "2.log"
    )
    try:
        wait_for(
            lambda: (
                not WebhookEvent.objects.exclude(status=WebhookEvent.Status.PROCESSED).exists()
                and not BillingEmail.objects.filter(sent_at__isnull=True).exists()
                and queued(redis_client, broker["queue"]) == 0
                and not unacked_tags(redis_client, broker["queue"])
            ),
            timeout=120,
            what="the second worker to finish",
            worker=second,
        )
    finally:
        second.stop()

    # Exactly once: one attempt, one Event per stored event; Stripe's state; one email each.
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
    assert not WebhookEventTrigger.objects.filter(processed=False).exists()
    assert sorted(Event.objects.values_list("id", flat=True)) == sorted(
        WebhookEvent.objects.values_list("stripe_event_id", flat=True)
    )
    for subscription in subscriptions:
        remote = stripe.Subscription.retrieve(subscription.id, **options)
        local = Subscription.objects.get(id=subscription.id)
        assert (local.status, local.cancel_at_period_end) == (
            remote.status,
            remote.cancel_at_period_end,
        )
    assert SubscriptionMetadata.objects.count() == len(subscriptions)
    failed_payments = len(stripe_fake.events("invoice.payment_failed"))
    assert failed_payments >= 1
    assert BillingEmail.objects.filter(sent_at__isnull=False).count() == failed_payments
    assert set(BillingEmail.objects.values_list("attempts", flat=True)) == {1}
    assert not mail.outbox  # sent by the workers, not by this process


def database_url() -> str:
    """The test database, for the workers (pytest-django created it: test_<name>)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"
