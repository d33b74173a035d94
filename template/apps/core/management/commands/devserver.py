"""`make run`: runserver, with the offline Stripe beside it when no Stripe key is set.

With STRIPE_SECRET_KEY set, this is plain `runserver`. Without it (and only with DEBUG on),
it starts the offline Stripe (`python -m fakestripe`) on a free local port, creates the
configured plans in it, registers the project's webhook endpoint, and runs `runserver` with
the environment pointing Stripe calls at it. No real money moves; nothing leaves the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.billing.offline import WEBHOOK_PATH, bootstrap

BANNER = """
  ┌──────────────────────────────────────────────────────────────────────────┐
  │  OFFLINE STRIPE: no Stripe key is set, so billing runs against a local   │
  │  fake Stripe at {url:<55}  │
  │  No real money moves. Pay with the test card 4242 4242 4242 4242.        │
  │  Set STRIPE_SECRET_KEY (sk_test_...) in .env to use your Stripe account. │
  └──────────────────────────────────────────────────────────────────────────┘
"""


class Command(BaseCommand):
    help = "Run the development server; without Stripe keys, with the offline Stripe."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        addrport: str = options["addrport"]
        runserver = [sys.executable, "manage.py", "runserver", addrport]
        if settings.STRIPE_SECRET_KEY:
            self.stdout.write("Stripe: using the keys from the environment.")
            raise SystemExit(subprocess.call(runserver))
        if not settings.DEBUG:
            raise CommandError(
                "No STRIPE_SECRET_KEY is set and DEBUG is off: the offline Stripe only runs "
                "in development. Set the Stripe keys, or DEBUG=true."
            )
        host, _, port = addrport.rpartition(":")
        site = f"http://{host or '127.0.0.1'}:{port}"
        fake = subprocess.Popen(
            [sys.executable, "-m", "fakestripe", "--webhook", site + WEBHOOK_PATH],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            values = self._read_fake(fake)
            env = bootstrap(
                api_base=values["FAKESTRIPE_URL"],
                api_key=values["FAKESTRIPE_API_KEY"],
                webhook_secret=values["FAKESTRIPE_WEBHOOK"].split()[-1],
            )
            self.stdout.write(BANNER.format(url=values["FAKESTRIPE_URL"]))
            raise SystemExit(subprocess.call(runserver, env={**os.environ, **env}))
        finally:
            fake.terminate()
            fake.wait(timeout=10)

    @staticmethod
    def _read_fake(fake: subprocess.Popen[str]) -> dict[str, str]:
        """The lines `python -m fakestripe` prints before serving."""
        values: dict[str, str] = {}
        assert fake.stdout is not None
        while "FAKESTRIPE_WEBHOOK" not in values:
            line = fake.stdout.readline()
            if not line:
                raise CommandError("The offline Stripe did not start (python -m fakestripe).")
            key, _, value = line.strip().partition("=")
            values[key] = value
        return values
