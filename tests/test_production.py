"""The documented deploy, end to end on a basic render: a production install (`uv sync
--no-dev`, without the offline Stripe), migrate, collectstatic, then `gunicorn config.wsgi`
(which reads the project's gunicorn.conf.py) under production settings, answering a page and a
signed Stripe webhook over real HTTP."""

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
from pathlib import Path

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
