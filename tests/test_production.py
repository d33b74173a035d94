"""The documented deploy, end to end on a basic render: a production install (`uv sync
--no-dev`, without the offline Stripe), migrate, collectstatic, then `gunicorn config.wsgi`
(which reads the project's gunicorn.conf.py) under production settings, answering a page and a
signed Stripe webhook over real HTTP; and the three production process types (web, worker,
beat) together on PostgreSQL and Redis, a posted webhook applied by the worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import run
from .test_devserver import REDIS_URL, flush_redis, free_port, redis_database
from .test_generated import HAS_POSTGRES, POSTGRES_URL, PRODUCTION_ENV


#: Beside the other xdist worker's suite on two cores, gunicorn's workers can take over 30 s to
#: import Django and answer (seen once on a slow machine); alone it answers in a few seconds.
def wait_for(url: str, server: subprocess.Popen[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer {url}")


def signed_post(url: str, event: dict[str, object], secret: str) -> tuple[int, dict]:
    body = json.dumps(event).encode()
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={timestamp},v1={digest.hexdigest()}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def production_bin(renders, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The basic render installed as in production: `uv sync --no-dev`, into an environment of
    its own (the project's .venv, with its dev tools, serves the other tests)."""
    environment = tmp_path_factory.mktemp("production") / "venv"
    run(
        [str(Path(sys.executable).parent / "uv"), "sync", "--no-dev", "--quiet"],
        renders.get("basic").project_dir,
        env={"UV_PROJECT_ENVIRONMENT": str(environment)},
    )
    return environment / "bin"


@pytest.mark.slow
def test_the_production_install_leaves_the_offline_stripe_out(renders, production_bin):
    probe = "import importlib.util as u; print(u.find_spec('fakestripe'), u.find_spec('django'))"
    out = run([str(production_bin / "python"), "-c", probe], renders.get("basic").project_dir)
    assert out.startswith("None ModuleSpec"), out


@pytest.mark.slow
def test_gunicorn_serves_the_production_settings(renders, production_bin, tmp_path):
    project = renders.get("basic").project_dir
    bin_dir = production_bin
    port = free_port()
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # no TLS proxy in front of it here
        "PORT": str(port),
        "GUNICORN_THREADS": "2",
        "CELERY_BROKER_URL": "",  # tasks in-process: this test starts no worker
    }
    python = str(bin_dir / "python")
    run([python, "manage.py", "migrate", "--noinput"], project, env=env)
    run([python, "manage.py", "collectstatic", "--noinput"], project, env=env)
    server = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "config.wsgi"],
        cwd=project,
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/", server)
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            html = page.read().decode()
        assert page.status == 200
        # The hashed name from the manifest collectstatic wrote.
        assert re.search(r"/static/css/app\.[0-9a-f]{12}\.css", html), html

        secret = env["STRIPE_WEBHOOK_SECRET"]
        event = {
            "id": "evt_production_0001",
            "object": "event",
            "created": int(time.time()),
            "type": "customer.created",
            "data": {"object": {"id": "cus_Production", "object": "customer"}},
        }
        # Stored and queued (no broker here: applied in-process once the request committed).
        assert signed_post(base + "/billing/webhook/", event, secret) == (
            200,
            {"id": "evt_production_0001", "status": "received"},
        )
        status, _ = signed_post(base + "/billing/webhook/", event, "whsec_wrong")
        assert status == 400
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert "gthread" in errors  # the project's gunicorn.conf.py was read


#: The Redis database of this test (other suites may use the same Redis at the same time).
PRODUCTION_REDIS_DATABASE = 14
#: What a query helper runs with the production install's Python (psycopg is a dependency).
SQL = (
    "import json, sys, psycopg\n"
    "with psycopg.connect(sys.argv[1], autocommit=True) as connection:\n"
    "    cursor = connection.execute(sys.argv[2])\n"
    "    rows = cursor.fetchall() if cursor.description else []\n"
    "print(json.dumps(rows, default=str))\n"
)
#: Backdates the shared email sweep in beat's schedule file, as after a day without beat, so
#: beat sends it at once (the other entries keep their first run a period away).
BACKDATE_SWEEP = (
    "import datetime, sys, django\n"
    "django.setup()\n"
    "from celery.beat import PersistentScheduler\n"
    "from config.celery import app\n"
    "scheduler = PersistentScheduler(app=app, schedule_filename=sys.argv[1])\n"
    "entry = scheduler.schedule['send-pending-billing-emails']\n"
    "entry.last_run_at = app.now() - datetime.timedelta(days=1)\n"
    "scheduler.close()\n"
)


def sql(python: str, url: str, query: str) -> list[list[object]]:
    return json.loads(run([python, "-c", SQL, url, query], Path.cwd()))


def wait_until(
    check: Callable[[], bool],
    what: str,
    processes: dict[str, subprocess.Popen[str]],
    timeout: float = 20.0,
) -> None:
    """Poll `check` until it holds, while every process keeps running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited: {process.communicate()}"
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def production_event(event_id: str, event_type: str, obj: dict[str, object]) -> dict[str, object]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-05-27.dahlia",
        "created": int(time.time()),
        "livemode": True,  # the production keys are live ones
        "type": event_type,
        "data": {"object": obj},
    }


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_POSTGRES or not REDIS_URL,
    reason="set DATABASE_URL=postgres://... and REDIS_URL=redis://... to run web, worker and "
    "beat together",
)
def test_web_worker_and_beat_on_postgresql_and_redis(renders, production_bin, tmp_path):
    """gunicorn, `celery -A config worker` and `celery -A config beat` with production settings:
    the web process stores a signed webhook and answers; only the worker applies it (and sends
    the email it queues); beat sends the periodic tasks; all three stop cleanly on SIGTERM."""
    project = renders.get("basic").project_dir
    python = str(production_bin / "python")
    database = f"keel_production_{os.getpid()}"
    server_url = urlsplit(POSTGRES_URL)
    admin_url = server_url._replace(path="/postgres").geturl()
    database_url = server_url._replace(path=f"/{database}").geturl()
    broker = redis_database(PRODUCTION_REDIS_DATABASE)
    port = free_port()
    env = {
        **os.environ,
        **PRODUCTION_ENV,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # no TLS proxy in front of it here
        "PORT": str(port),
        "GUNICORN_THREADS": "2",
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",  # the worker's output
        "PYTHONUNBUFFERED": "1",
    }
    sql(python, admin_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    sql(python, admin_url, f"CREATE DATABASE {database}")
    flush_redis(broker)
    processes: dict[str, subprocess.Popen[str]] = {}

    def start(name: str, command: list[str]) -> None:
        processes[name] = subprocess.Popen(
            [str(production_bin / command[0]), *command[1:]],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    outputs: dict[str, str] = {}
    try:
        run([python, "manage.py", "migrate", "--noinput", "-v0"], project, env=env)
        seed = (
            "from django.contrib.auth import get_user_model\n"
            "from apps.billing.models import StripeCustomer\n"
            "user = get_user_model().objects.create_user(email='owner@example.com')\n"
            "StripeCustomer.objects.create(user=user, stripe_customer_id='cus_Production')\n"
        )
        run([python, "manage.py", "shell", "-c", seed], project, env=env)
        schedule = str(tmp_path / "celerybeat-schedule")
        run([python, "-c", BACKDATE_SWEEP, schedule], project, env=env)

        # The web process and beat first: a webhook is stored and answered with no worker up.
        start("web", ["gunicorn", "config.wsgi"])
        start(
            "beat", ["celery", "-A", "config", "beat", "--loglevel=INFO", f"--schedule={schedule}"]
        )
        wait_for(f"http://127.0.0.1:{port}/", processes["web"])
        now = int(time.time())
        subscription = {
            "id": "sub_Production",
            "object": "subscription",
            "customer": "cus_Production",
            "status": "active",
            "cancel_at_period_end": False,
            "created": now - 60,
            "metadata": {},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_Production",
                        "object": "subscription_item",
                        "current_period_start": now - 60,
                        "current_period_end": now + 30 * 86400,
                        "price": {"id": "price_Production", "object": "price"},
                        "quantity": 1,
                    }
                ],
            },
        }
        invoice = {
            "id": "in_Production",
            "object": "invoice",
            "customer": "cus_Production",
            "customer_email": "owner@example.com",
            "currency": "usd",
            "amount_due": 2900,
            "number": "PROD-0001",
        }
        webhook = f"http://127.0.0.1:{port}/billing/webhook/"
        secret = env["STRIPE_WEBHOOK_SECRET"]
        for event in (
            production_event("evt_production_sub", "customer.subscription.updated", subscription),
            production_event("evt_production_inv", "invoice.payment_failed", invoice),
        ):
            status, body = signed_post(webhook, event, secret)
            assert 200 <= status < 300, (status, body)
        state = (
            "SELECT status FROM billing_subscription "
            "WHERE stripe_subscription_id = 'sub_Production'"
        )
        sent = "SELECT count(*) FROM billing_billingemail WHERE sent_at IS NOT NULL"
        assert sql(python, database_url, state) == [], "applied in the request, not by a worker"
        assert sql(python, database_url, sent) == [[0]]

        # The worker applies the stored events, and sends the email the second one queued.
        start("worker", ["celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2"])
        wait_until(
            lambda: sql(python, database_url, state) == [["active"]], "the subscription", processes
        )
        wait_until(lambda: sql(python, database_url, sent) == [[1]], "the email", processes)
    finally:
        for process in processes.values():
            os.killpg(process.pid, signal.SIGTERM)
        for name, process in processes.items():
            outputs[name] = process.communicate(timeout=30)[0]
        sql(python, admin_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        flush_redis(broker)
    worker, beat = outputs["worker"], outputs["beat"]
    assert re.search(r"Task apps\.billing\.tasks\.\w+\[[-0-9a-f]+\] succeeded", worker), worker
    assert "Subject: Payment failed for your" in worker  # sent from the worker, not the web
    # beat read the settings' schedule and sent the overdue sweep; the worker ran it.
    assert "Sending due task send-pending-billing-emails" in beat, beat
    assert re.search(r"send_pending_billing_emails\[[-0-9a-f]+\] succeeded", worker), worker
    # SIGTERM: each stopped by itself, the worker after a warm shutdown.
    assert {name: process.returncode for name, process in processes.items()} == {
        "web": 0,
        "beat": 0,
        "worker": 0,
    }, outputs
    assert "Warm shutdown" in worker
