"""Settings that keep a deploy safe: production refuses the offline Stripe and starts behind one
trusted proxy, `migrate` creates the cache table, a hanging mail server cannot hold a thread."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.mail import send_mail

from tests.concurrency import needs_postgresql

PROJECT = Path(django_settings.BASE_DIR)
PRODUCTION: dict[str, str | None] = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "production-settings-test-" + "x" * 40,
    "ALLOWED_HOSTS": "app.example.com",
    "DATABASE_URL": "sqlite:///" + os.path.join(tempfile.gettempdir(), "settings-test.sqlite3"),
    "STRIPE_API_BASE": "",
    "ALLAUTH_TRUSTED_PROXY_COUNT": None,  # production's default
}
#: What gunicorn does first: import the WSGI application, and so the settings.
START = "import config.wsgi; from django.conf import settings as s; "


def python(code: str, env: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    """Run `code` with the project's Python; a variable set to None is left out."""
    merged = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env={name: value for name, value in merged.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_with_the_offline_stripe():
    started = python(START, {**PRODUCTION, "STRIPE_API_BASE": "http://127.0.0.1:12111"})
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "STRIPE_API_BASE" in started.stderr.strip().splitlines()[-1]


def test_production_trusts_one_proxy_and_uses_redis_when_told():
    code = START + "print(s.ALLAUTH_TRUSTED_PROXY_COUNT, s.CACHES['default']['BACKEND'])"
    started = python(code, {**PRODUCTION, "REDIS_URL": "redis://cache.internal:6379/0"})
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["1", "django.core.cache.backends.redis.RedisCache"]
    started = python(code, {**PRODUCTION, "REDIS_URL": "", "ALLAUTH_TRUSTED_PROXY_COUNT": "2"})
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["2", "django.core.cache.backends.db.DatabaseCache"]


PUBLISH_TWENTY = """
import django
django.setup()
from kombu.transport import redis
from config.celery import app
from apps.billing.emails import send_pending_billing_emails as task

built = []
create = redis.Channel._create_client
redis.Channel._create_client = lambda self, *a, **k: built.append(1) or create(self, *a, **k)
queue = app.connection_for_write().default_channel.client
queue.delete("celery")
for _ in range(20):
    task.delay()
print(app.connection_for_write().transport_cls, queue.llen("celery"), len(built))
queue.delete("celery")
"""
SHOW_TRANSPORT = "from config.settings import local; print(local.CELERY_BROKER_TRANSPORT)"


def test_tasks_published_to_redis_reach_the_queue_each_once():
    """A redis:// broker publishes through config/celery_redis.py (one client per channel);
    every task still lands on the queue, once. amqp:// keeps kombu's own transport."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: set it (e.g. redis://127.0.0.1:6379/0) to test Redis")
    # The local settings (the test settings run tasks in-process), on a database of its own.
    local = {"DJANGO_SETTINGS_MODULE": "config.settings.local"}
    started = python(PUBLISH_TWENTY, {**local, "CELERY_BROKER_URL": url.rsplit("/", 1)[0] + "/10"})
    assert started.returncode == 0, started.stderr
    transport, queued, clients = started.stdout.split()
    assert (transport, queued) == ("config.celery_redis:Transport", "20")
    assert int(clients) <= 3  # one per channel, not one or two per task
    amqp = python(SHOW_TRANSPORT, {**local, "CELERY_BROKER_URL": "amqp://127.0.0.1:5672//"})
    assert "has no attribute 'CELERY_BROKER_TRANSPORT'" in amqp.stderr


def test_migrate_creates_the_cache_table(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=PROJECT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": f"sqlite:///{database}",
            "REDIS_URL": "",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    import sqlite3

    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "django_cache" in tables


@pytest.fixture
def hanging_smtp_server() -> Iterator[int]:
    """Accepts connections and never says a word (a mail server that hangs)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        server.close()


def test_a_hanging_mail_server_cannot_hold_a_thread(settings, hanging_smtp_server):
    assert 0 < settings.EMAIL_TIMEOUT <= 30  # the project's value (10 s unless EMAIL_TIMEOUT)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", hanging_smtp_server
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 1  # the same mechanism, quicker
    started = time.monotonic()
    with pytest.raises(OSError, match="timed out"):  # smtplib may wrap it: SMTPServerDisconnected
        send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
    assert time.monotonic() - started < 5


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_flush_after_a_transactional_test_empties_tables_linked_by_foreign_keys():
    # The test backend (tests/postgresql_backend) deletes instead of truncating: rows that
    # reference each other must all go, whatever order the tables are listed in.
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    user = get_user_model().objects.create_user(email="flushed@example.com", password="x")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    call_command("flush", verbosity=0, interactive=False, reset_sequences=False)
    assert not get_user_model().objects.exists()
    assert not EmailAddress.objects.exists()
