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


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["basic", "advanced"])
def test_make_run_gives_a_working_checkout_without_a_stripe_account(installed, tmp_path, mode):
    project: Path = installed(mode)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        "STRIPE_SECRET_KEY": "",
        "PORT": str(port),
    }
    run(["make", "migrate"], project, env={"DATABASE_URL": env["DATABASE_URL"]})
    server = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    site = f"http://127.0.0.1:{port}"
    try:
        browser = Browser()
        for _ in range(100):
            try:
                status, _, home = browser.open(site + "/")
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("make run did not serve the site")
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
        for _ in range(100):
            _, _, dashboard = browser.open(site + "/dashboard/")
            if "Plan: Pro" in dashboard:
                break
            time.sleep(0.2)
        assert "Plan: Pro" in dashboard and "active" in dashboard
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=20)[0]
    assert "OFFLINE STRIPE" in output and "No real money moves" in output
