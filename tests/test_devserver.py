"""`make run` on a fresh render, driven over real HTTP like a newcomer with no Stripe account:
sign up, pick a plan, pay on the offline Stripe's hosted page with 4242, and see the plan."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .conftest import run


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Browser:
    """Just enough of a browser: cookies, forms with CSRF tokens, no automatic redirects."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def open(self, url: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, headers={"Referer": url})
        try:
            with self.opener.open(request, timeout=30) as response:
                return (
                    response.status,
                    response.headers.get("Location", ""),
                    response.read().decode(),
                )
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read().decode()


def csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: A Redis database of each test's own (other suites may use the same Redis at the same time):
#: one per mode, since pytest-xdist may run both modes at once.
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_DATABASES = {"basic": 12, "advanced": 13}


def redis_database(number: int) -> str:
    """REDIS_URL with another database number."""
    return urllib.parse.urlsplit(REDIS_URL)._replace(path=f"/{number}").geturl()


def flush_redis(url: str) -> None:
    """FLUSHDB on the URL's database, over Redis's wire protocol (no client library here)."""
    parts = urllib.parse.urlsplit(url)
    commands = [("SELECT", parts.path.strip("/") or "0"), ("FLUSHDB",)]
    if parts.password:
        commands.insert(0, ("AUTH", urllib.parse.unquote(parts.password)))
    with socket.create_connection((parts.hostname, parts.port or 6379), timeout=5) as sock:
        for command in commands:
            wire = f"*{len(command)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in command)
            sock.sendall(wire.encode())
            reply = sock.recv(1024)
            assert reply.startswith(b"+OK"), reply


def wait_until_gone(group: int, timeout: float = 10.0) -> None:
    """Every process of `make run`'s process group has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    leftovers = subprocess.run(["ps", "-o", "pid,args", "-g", str(group)], capture_output=True)
    pytest.fail(f"make run left processes behind:\n{leftovers.stdout.decode()}")


#: Seconds `make run` may take to serve its first page in these tests.
SERVE_TIMEOUT = 120


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def subscribe_through_make_run(
    project: Path, env: dict[str, str], stop: signal.Signals = signal.SIGTERM
) -> str:
    """`make run`, then sign up, pay for Pro on the offline Stripe's hosted page and wait for
    the dashboard to show the plan (set by the webhooks only: the success page is not opened).
    Stops `make run` with `stop` sent to its process group; returns its output."""
    port = env["PORT"]
    run(["make", "migrate"], project, env={"DATABASE_URL": env["DATABASE_URL"]})
    server = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # As in a terminal, whatever started pytest: a shell's background job ignores SIGINT.
        preexec_fn=default_sigint,
    )
    site = f"http://127.0.0.1:{port}"
    try:
        browser = Browser()
        # Generous: on a loaded two-core machine the offline Stripe, the worker and beat start
        # beside the server (first-page times are benchmarked in bench/run.py, not here).
        deadline = time.monotonic() + SERVE_TIMEOUT
        while True:
            try:
                status, _, home = browser.open(site + "/")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    os.killpg(server.pid, signal.SIGTERM)
                    output, _ = server.communicate(timeout=30)
                    pytest.fail(f"make run did not serve the site:\n{output[-4000:]}")
                time.sleep(0.2)
        assert status == 200

        # Sign up.
        _, _, page = browser.open(site + "/accounts/signup/")
        status, location, _ = browser.open(
            site + "/accounts/signup/",
            {
                "csrfmiddlewaretoken": csrf(page),
                "email": "newcomer@example.com",
                "password1": "a-long-unusual-passphrase",
                "password2": "a-long-unusual-passphrase",
            },
        )
        assert status == 302, location

        # Pricing lists the plans, created in the offline Stripe by `make run`.
        _, _, pricing = browser.open(site + "/billing/pricing/")
        price_id = re.search(r'name="price_id" value="(price_[^"]+)"', pricing).group(1)
        status, checkout_url, _ = browser.open(
            site + "/billing/checkout/",
            {"csrfmiddlewaretoken": csrf(pricing), "price_id": price_id},
        )
        assert status == 302 and "/c/pay/cs_" in checkout_url

        # The hosted Checkout page of the offline Stripe, paid with the test card.
        status, _, hosted = browser.open(checkout_url)
        assert status == 200 and "4242" in hosted
        status, success_url, _ = browser.open(
            checkout_url,
            {
                "email": "newcomer@example.com",
                "card_number": "4242 4242 4242 4242",
                "card_expiry": "12 / 34",
                "card_cvc": "123",
                "billing_name": "New Comer",
                "postal_code": "94103",
            },
        )
        assert status == 303 and success_url.startswith(site + "/billing/success/")

        # Stripe's webhooks reach the project over HTTP; the dashboard shows the plan.
        for _ in range(150):
            _, _, dashboard = browser.open(site + "/dashboard/")
            if "Your plan: Pro" in dashboard:
                break
            time.sleep(0.2)
        assert "Your plan: Pro" in dashboard and "Active" in dashboard
    finally:
        os.killpg(server.pid, stop)
        output = server.communicate(timeout=30)[0]
    wait_until_gone(server.pid)
    assert "OFFLINE STRIPE" in output and "No real money moves" in output
    return output


def dev_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        "STRIPE_SECRET_KEY": "",
        "CELERY_BROKER_URL": "",
        "PORT": str(free_port()),
        **extra,
    }


@pytest.mark.slow
# Basic only: `make run` is one Makefile target and one devserver command in both modes, and
# advanced mode's runs here with a broker (below); its devserver without one serves each
# generated suite's browser journey (tests/test_browser.py).
@pytest.mark.parametrize("mode", ["basic"])
def test_make_run_gives_a_working_checkout_without_a_stripe_account(installed, tmp_path, mode):
    output = subscribe_through_make_run(installed(mode), dev_env(tmp_path))
    # No broker: tasks ran in-process (they may log as they run), and no worker or beat started.
    assert "Task queue" not in output and "celery@" not in output
    assert "beat: Starting" not in output


@pytest.mark.slow
@pytest.mark.skipif(
    not REDIS_URL, reason="set REDIS_URL=redis://127.0.0.1:6379/0 to run make run with a broker"
)
# Advanced only: `make run` starts the worker and beat the same way in both modes, and basic
# mode's tasks run in a real worker in tests/test_production.py.
@pytest.mark.parametrize("mode", ["advanced"])
def test_make_run_with_a_broker_processes_the_webhooks_in_a_worker(installed, tmp_path, mode):
    broker = redis_database(REDIS_DATABASES[mode])
    flush_redis(broker)
    try:
        output = subscribe_through_make_run(
            installed(mode), dev_env(tmp_path, CELERY_BROKER_URL=broker), stop=signal.SIGINT
        )
    finally:
        flush_redis(broker)
    assert f"Task queue: a Celery worker and beat on {broker}" in output
    assert "beat: Starting..." in output and "celery@" in output
    # The offline Stripe's webhooks were applied by the worker (the view only enqueued them),
    # which reached the offline Stripe with the serving child's environment.
    processed = re.findall(r"Task (apps\.billing\.tasks\.\w+)\[[-0-9a-f]+\] succeeded", output)
    assert processed, output[-3000:]
    assert "Warm shutdown" in output  # stopped with `make run` (Ctrl-C), not killed
