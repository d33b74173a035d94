"""A real Celery worker on Redis applies the webhooks, and one killed with SIGKILL in the middle
of a task loses nothing.

Customers subscribe, request and withdraw cancellations, cancel, and fail renewals at the
offline Stripe; its webhooks are delivered to the endpoint in a shuffled order, each queued on
Redis. A worker process (`celery -A config worker`, two child processes) starts on them while
the test holds a lock on the billing emails' table, so a task that emails waits, inside its
transaction; the worker is killed with SIGKILL there. A second worker, with a 2-second
visibility timeout, takes over what the first held unacknowledged and finishes. Then every
subscription reads as Stripe has it, every failed payment was emailed exactly once, and
nothing is left queued or unacknowledged.

It needs Redis and a database the test and the workers share (PostgreSQL; the workers connect
to the test database): REDIS_URL=redis://... and DATABASE_URL=postgres://...; skipped
otherwise, with the reason printed. Mode-agnostic: it drives each mode through what both have
(the offline Stripe's `billing_stripe`, `services.get_or_create_customer`, the selectors, the
billing emails).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import stripe
from django.conf import settings
from django.db import connection

from apps.billing.emails import BillingEmail
from apps.billing.lifecycle import TERMINAL_STATUSES
from apps.billing.models import WebhookEvent
from apps.billing.selectors import (
    cancels_at,
    renews_at,
    stripe_customer_id_of,
    subscription_history,
)
from apps.billing.services import get_or_create_customer
from apps.billing.tasks import webhook_batches
from tests.celery_broker import queued_task, use_broker

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = [
    pytest.mark.skipif(
        not REDIS_URL,
        reason="REDIS_URL is not set: set it (e.g. redis://127.0.0.1:6379/0) to test a worker",
    ),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the workers share the test's database: set DATABASE_URL=postgres://...",
    ),
    pytest.mark.django_db(transaction=True),  # committed, so the workers see it
]
CUSTOMERS = 16
#: The worker processes' settings: the test settings, with what the test hands them.
WORKER_SETTINGS = '''"""Settings of the Celery workers that tests/billing/test_worker.py starts."""

import base64
import json
import os

import stripe

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BROKER_TRANSPORT_OPTIONS, DATABASES

handed = json.loads(os.environ["WORKER_TEST_SETTINGS"])
# visibility_timeout stays the one CELERY_VISIBILITY_TIMEOUT sets (config/settings/base.py).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    **handed.pop("CELERY_BROKER_TRANSPORT_OPTIONS"),
}
globals().update(handed)
DATABASES["default"]["NAME"] = os.environ["WORKER_TEST_DATABASE"]
# The test's offline Stripe (config/settings follow STRIPE_API_BASE only with DEBUG on).
stripe.api_base = stripe.meter_events_api_base = os.environ["WORKER_TEST_STRIPE_API_BASE"]
'''
#: Settings the test's fixtures set (the offline Stripe's keys and plans), handed to the workers.
TEST_SETTINGS = [
    "BILLING_PLANS",
    "BILLING_TRIAL_PERIOD_DAYS",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLIC_KEY",
    "STRIPE_TEST_SECRET_KEY",
    "STRIPE_LIVE_SECRET_KEY",
    "STRIPE_LIVE_MODE",
    "SITE_URL",
]


class Redis:
    """The test's keys on the Redis broker (every key carries the test's own prefix)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.prefix = prefix

    def queued(self) -> int:
        return int(self.client.llen(self.prefix + "celery"))

    def queued_messages(self) -> list[tuple[str, list[Any]]]:
        """(task name, args) of each message queued, oldest first."""
        return [
            queued_task(raw) for raw in reversed(self.client.lrange(self.prefix + "celery", 0, -1))
        ]

    def unacknowledged(self) -> int:
        return int(self.client.hlen(self.prefix + "unacked"))

    def purge(self) -> None:
        keys = list(self.client.scan_iter(match=self.prefix + "*"))
        if keys:
            self.client.delete(*keys)


@pytest.fixture
def redis_broker() -> Iterator[Redis]:
    """Tasks published to the real Redis, under a key prefix of this test's own (other suites
    may use the same server), and everything it created removed afterwards."""
    broker = Redis(REDIS_URL, f"test-worker-{uuid.uuid4().hex[:12]}:")
    options = {"global_keyprefix": broker.prefix}
    try:
        with use_broker(REDIS_URL, broker_transport_options=options):
            yield broker
    finally:
        broker.purge()


@pytest.fixture
def start_worker(
    tmp_path: Path, redis_broker: Redis, billing_stripe: Any
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """`start_worker(name, visibility_timeout)`: a `celery -A config worker` process on the
    test's broker, database and offline Stripe (every one left is killed at the end)."""
    (tmp_path / "worker_settings.py").write_text(WORKER_SETTINGS)
    (tmp_path / "mail").mkdir()
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, visibility_timeout: int = 3600) -> subprocess.Popen[bytes]:
        handed = {
            name: getattr(settings, name) for name in TEST_SETTINGS if hasattr(settings, name)
        }
        handed |= {
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": False,
            "CELERY_BROKER_TRANSPORT_OPTIONS": {
                "global_keyprefix": redis_broker.prefix,
                # Look for the messages of dead workers every second (kombu's default: 100 s).
                "unacked_restore_interval": 1,
                "unacked_restore_throttle": 1,
            },
            "CELERY_WORKER_ENABLE_REMOTE_CONTROL": False,  # no keys outside the prefix
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        }
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "worker_settings",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(settings.BASE_DIR)]),
            "WORKER_TEST_SETTINGS": json.dumps(handed),
            "WORKER_TEST_DATABASE": str(connection.settings_dict["NAME"]),
            "WORKER_TEST_STRIPE_API_BASE": billing_stripe.fake.url,
            "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
        }
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork"]
        command += ["--concurrency=2", "--without-mingle", "--without-gossip"]
        command += ["--without-heartbeat", "--loglevel=INFO", f"--hostname={name}@%h"]
        log = (tmp_path / f"{name}.log").open("wb")
        worker = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the child processes die with it
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


@contextmanager
def emails_table_locked() -> Iterator[Callable[[], int]]:
    """Hold a lock that lets nobody store a billing email, from a connection of the test's own;
    yields how many sessions wait for it (a worker's task that emails, inside its transaction)."""
    table = connection.ops.quote_name(BillingEmail._meta.db_table)
    with psycopg.connect(**connection.get_connection_params()) as locker:
        locker.execute(f"LOCK TABLE {table} IN SHARE MODE")

        def waiting() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                    [BillingEmail._meta.db_table],
                )
                return int(cursor.fetchone()[0])

        try:
            yield waiting
        finally:
            locker.rollback()


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            worker_logs = "\n".join(path.read_text()[-3000:] for path in logs.glob("*.log"))
            pytest.fail(f"timed out waiting for {what}\n{worker_logs}")
        time.sleep(0.01)


def at(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


def as_the_billing_page_shows(subscription: dict[str, Any]) -> tuple[Any, ...]:
    """(status, cancels on, renews on) of a subscription as Stripe has it."""
    status = subscription["status"]
    period_end = at(subscription["items"]["data"][0]["current_period_end"])
    cancels = None
    if status not in TERMINAL_STATUSES:
        cancels = at(subscription["cancel_at"]) or (
            period_end if subscription["cancel_at_period_end"] else None
        )
    ends = status in TERMINAL_STATUSES or status == "incomplete" or cancels is not None
    return status, cancels, None if ends else period_end


def emails_written(folder: Path) -> list[str]:
    """The recipients of the emails the workers sent (the file backend: one file a connection)."""
    return [
        line.removeprefix("To: ")
        for path in sorted(folder.iterdir())
        for line in path.read_text().splitlines()
        if line.startswith("To: ")
    ]


def subscribe_and_change(billing_stripe: Any, users: list[Any]) -> int:
    """What customers do at Stripe: subscribe, request a cancellation (some withdraw it), cancel
    at once, or keep a card that fails the renewal (and Stripe's retry). One change a second
    per subscription: Stripe's event times are whole seconds. The number of failing cards."""
    fake = billing_stripe.fake
    subscriptions = []
    for user in users:
        get_or_create_customer(user=user)
        customer_id = stripe_customer_id_of(user)
        subscription = stripe.Subscription.create(
            customer=customer_id,
            items=[{"price": billing_stripe.price_id}],
            default_payment_method="pm_card_visa",
        )
        subscriptions.append((customer_id, subscription.id))
    fake.advance(seconds=1)
    for i, (customer_id, subscription_id) in enumerate(subscriptions):
        if i % 4 in (1, 2):
            stripe.Subscription.modify(subscription_id, cancel_at_period_end=True)
        elif i % 4 == 3:
            card = stripe.PaymentMethod.attach("pm_card_chargeCustomerFail", customer=customer_id)
            stripe.Subscription.modify(subscription_id, default_payment_method=card.id)
    fake.advance(seconds=1)
    for i, (_, subscription_id) in enumerate(subscriptions):
        if i % 4 == 2:
            stripe.Subscription.modify(subscription_id, cancel_at_period_end=False)
        elif i % 6 == 5:
            stripe.Subscription.cancel(subscription_id)
    fake.advance(days=32)  # renewals: some fail
    fake.advance(days=4)  # Stripe retries the failed payments (and fails again)
    return sum(1 for i in range(len(users)) if i % 4 == 3 and i % 6 != 5)


def test_a_worker_killed_mid_way_loses_nothing(
    billing_stripe, django_user_model, redis_broker, start_worker, tmp_path
):
    users = [
        django_user_model.objects.create_user(email=f"payer{i}@example.com")
        for i in range(CUSTOMERS)
    ]
    fake = billing_stripe.fake
    fake.hold()
    failing_cards = subscribe_and_change(billing_stripe, users)
    fake.release(order="shuffle", seed=11)
    billing_stripe.deliver()  # every delivery accepted (200): stored and queued on Redis
    assert webhook_batches.flush(timeout=10)  # in batches, by this process's sender thread
    stored = list(WebhookEvent.objects.values_list("pk", flat=True))
    assert len(stored) >= 180, len(stored)  # about 200 events
    batches = redis_broker.queued_messages()
    assert {name for name, _ in batches} == {"apps.billing.tasks.process_webhook_events"}
    assert sorted(pk for _, [pks] in batches for pk in pks) == sorted(stored)  # each once
    queued = len(batches)

    with emails_table_locked() as waiting_on_the_lock:
        first = start_worker("first")
        # Kill it inside a task: one waits on the lock, in its transaction, after others ran.
        wait_for(
            lambda: waiting_on_the_lock() > 0 and redis_broker.queued() < queued * 0.9,
            timeout=120,
            what="the first worker to be inside a task that emails",
            logs=tmp_path,
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    # What it had taken and not finished is still on the broker, unacknowledged.
    assert redis_broker.unacknowledged() > 0
    assert 0 < redis_broker.queued() < queued

    second = start_worker("second", visibility_timeout=2)
    idle_since: list[float] = []

    def done() -> bool:
        # Nothing queued or held for a second: tasks that queue others (emails) are finished.
        if redis_broker.queued() or redis_broker.unacknowledged():
            idle_since.clear()
            return False
        idle_since.append(time.monotonic())
        return idle_since[-1] - idle_since[0] > 1.5

    wait_for(done, timeout=180, what="the second worker to finish", logs=tmp_path)
    os.killpg(second.pid, signal.SIGTERM)
    second.wait(timeout=30)

    for user in users:
        customer_id = stripe_customer_id_of(user)
        [at_stripe] = stripe.Subscription.list(customer=customer_id, status="all").data
        [here] = list(subscription_history(user))
        expected = as_the_billing_page_shows(at_stripe.to_dict())
        assert (here.status, cancels_at(here), renews_at(here)) == expected, user.email

    failed_payments = {
        event["id"]: event["data"]["object"]["customer"]
        for event in fake.events("invoice.payment_failed")
    }
    assert len(failed_payments) == 2 * failing_cards  # the renewal, and Stripe's retry
    emails = BillingEmail.objects.all()
    assert sorted(email.stripe_event_id for email in emails) == sorted(failed_payments)
    assert all(email.sent_at is not None for email in emails)
    recipients = sorted(emails_written(tmp_path / "mail"))
    assert recipients == sorted(email.email for email in emails)  # each sent exactly once
    assert redis_broker.queued() == redis_broker.unacknowledged() == 0
