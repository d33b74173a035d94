"""`make run`: migrate, then runserver; with the offline Stripe beside it when no key is set,
and with a Celery worker and beat beside it when a broker is set.

With STRIPE_SECRET_KEY set, this is `migrate` (with --migrate) and plain `runserver`. Without it
(and only with DEBUG on), it starts the offline Stripe (`python -m fakestripe`) on a free local
port, creates the configured plans in it, registers the project's webhook endpoint, and runs
`runserver` with the environment pointing Stripe calls at it. No real money moves; nothing
leaves the machine.

With CELERY_BROKER_URL set, it also starts `celery -A config worker` and `celery -A config beat`
(what `make worker` and `make beat` run) with the serving child's environment, the offline
Stripe's included: the worker processes webhooks and calls Stripe, so it must reach the same
Stripe. They stop with this command. Without a broker nothing else starts: tasks run in-process.

Start-up time: migrate, the offline Stripe's set-up and runserver's autoreloader all run in this
one process, so Django is imported twice (here and in the serving child) instead of four times,
and the offline Stripe starts while the migrations run. The child (RUN_MAIN=true, restarted on
every code change) inherits the offline Stripe's environment and only serves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template import engines
from django.urls import get_resolver
from django.utils import autoreload

from apps.billing.offline import WEBHOOK_PATH, bootstrap

BANNER = """
  ┌──────────────────────────────────────────────────────────────────────────┐
  │  OFFLINE STRIPE: no Stripe key is set, so billing runs against a local   │
  │  fake Stripe at {url:<55}  │
  │  No real money moves. Pay with the test card 4242 4242 4242 4242.        │
  │  Promotion code WELCOME20 (with BILLING_ALLOW_PROMOTION_CODES=true).     │
  │  Set STRIPE_SECRET_KEY (sk_test_...) in .env to use your Stripe account. │
  └──────────────────────────────────────────────────────────────────────────┘
"""
#: The task queue's processes, as `make worker` and `make beat` run them.
CELERY_COMMANDS = {
    "worker": ["worker", "--loglevel=INFO"],
    "beat": ["beat", "--loglevel=INFO", "--schedule=.celerybeat-schedule"],
}


class Command(BaseCommand):
    help = (
        "Run the development server; without Stripe keys, with the offline Stripe; with "
        "CELERY_BROKER_URL, with a Celery worker and beat."
    )
    requires_system_checks = []  # runserver runs them, in the child that serves

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--migrate", action="store_true", help="Apply migrations first (`make run`)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        addrport: str = options["addrport"]
        if os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) == "true":
            # The autoreloader's child: migrations and the offline Stripe are the parent's job.
            import_before_serving()
            call_command("runserver", addrport, skip_checks=False)
            return
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        if settings.STRIPE_SECRET_KEY:
            self.stdout.write("Stripe: using the keys from the environment.")
            self.migrate(options["migrate"])
            with self.task_queue():
                self.serve()  # does not return
        if not settings.DEBUG:
            raise CommandError(
                "No STRIPE_SECRET_KEY is set and DEBUG is off: the offline Stripe only runs "
                "in development. Set the Stripe keys, or DEBUG=true."
            )
        host, _, port = addrport.rpartition(":")
        site = f"http://{host or '127.0.0.1'}:{port}"
        fake = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fakestripe",
                "--webhook",
                site + WEBHOOK_PATH,
                # Its Checkout and portal pages then say whom the customer is paying.
                "--account-name",
                settings.PROJECT_NAME,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self.migrate(options["migrate"])  # while the offline Stripe starts
            values = self._read_fake(fake)
            env = bootstrap(
                api_base=values["FAKESTRIPE_URL"],
                api_key=values["FAKESTRIPE_API_KEY"],
                webhook_secret=values["FAKESTRIPE_WEBHOOK"].split()[-1],
            )
            self.stdout.write(BANNER.format(url=values["FAKESTRIPE_URL"]))
            os.environ.update(env)  # passed on to the child, and to the worker and beat
            with self.task_queue():
                self.serve()
        finally:
            fake.terminate()
            fake.wait(timeout=10)

    def migrate(self, wanted: bool) -> None:
        if wanted:
            call_command("migrate", interactive=False)

    @contextmanager
    def task_queue(self) -> Iterator[None]:
        """A Celery worker and beat for the duration of the block, when a broker is set.

        They get this process's environment, so they see what the serving child sees (the
        offline Stripe's address, keys and webhook secret). Ctrl-C reaches them with the rest of
        the terminal's process group; they are stopped here too, on the way out.
        """
        if settings.CELERY_TASK_ALWAYS_EAGER:  # no broker: tasks run in-process
            yield
            return
        broker = _without_password(settings.CELERY_BROKER_URL)
        self.stdout.write(f"Task queue: a Celery worker and beat on {broker}")
        processes = [
            subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", *command])
            for command in CELERY_COMMANDS.values()
        ]
        try:
            yield
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()  # a warm shutdown: the task in hand finishes
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    @staticmethod
    def serve() -> NoReturn:
        """runserver's autoreloader loop: runs this command again as a child that serves.

        Called directly rather than through runserver, whose SIGTERM handler raises SystemExit
        on every SIGTERM: killing `make run`'s process group delivers two (`uv run` forwards its
        own), and the second one, landing inside subprocess's wait, left this process hung.
        `_exit_on_sigterm` raises once.
        """
        try:
            code = autoreload.restart_with_reloader()
        except KeyboardInterrupt:  # Ctrl-C: the child got it too
            code = 0
        raise SystemExit(code)

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


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    """SIGTERM to this process alone (`kill PID`, a process manager) still stops its helpers:
    the exception unwinds through the `finally` blocks that stop them (and subprocess kills the
    serving child). Further SIGTERMs are ignored: killing `make run`'s process group delivers
    two (`uv run` forwards its own), and a second exception inside subprocess's wait hangs."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _without_password(url: str) -> str:
    """The broker URL without its password, for the terminal."""
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return parts.geturl()


def import_before_serving() -> None:
    """Import the URLconf and every template tag library, in this one thread.

    runserver's reloader thread imports the URLconf while its serving thread runs the system
    checks, which import the template tag libraries. Two threads importing allauth's modules at
    once can meet inside its import cycle, and Python then hands one of them a partially
    initialised module: the checks fail ("cannot import name 'LoginStage' from partially
    initialized module 'allauth.account.stages'") and the server never answers. Seen once in
    about ten `make run`s on a loaded machine. Imported first, there is nothing left to race on.
    """
    get_resolver().urlconf_module  # noqa: B018 (the property imports the URLconf)
    engines.all()  # each Django template engine loads every installed tag library
