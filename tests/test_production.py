"""The documented deploy, end to end on a basic render: migrate, collectstatic, then
`gunicorn config.wsgi` (which reads the project's gunicorn.conf.py) under production settings,
answering a page and a signed Stripe webhook over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .conftest import run
from .test_devserver import free_port
from .test_generated import PRODUCTION_ENV


def wait_for(url: str, server: subprocess.Popen[str], timeout: float = 30.0) -> None:
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


@pytest.mark.slow
def test_gunicorn_serves_the_production_settings(installed, tmp_path):
    project = installed("basic")
    port = free_port()
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # no TLS proxy in front of it here
        "PORT": str(port),
        "GUNICORN_THREADS": "2",
    }
    python = ".venv/bin/python"
    run([python, "manage.py", "migrate", "--noinput"], project, env=env)
    run([python, "manage.py", "collectstatic", "--noinput"], project, env=env)
    server = subprocess.Popen(
        [".venv/bin/gunicorn", "config.wsgi"],
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
        assert signed_post(base + "/billing/webhook/", event, secret) == (
            200,
            {"id": "evt_production_0001", "status": "ignored"},
        )
        status, _ = signed_post(base + "/billing/webhook/", event, "whsec_wrong")
        assert status == 400
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert "gthread" in errors  # the project's gunicorn.conf.py was read
