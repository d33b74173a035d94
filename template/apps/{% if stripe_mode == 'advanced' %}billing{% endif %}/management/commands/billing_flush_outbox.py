"""Send what the billing outbox holds: usage to Stripe Billing Meters, pending billing emails.

With a worker and beat running, the periodic tasks do this (`tasks.report_usage` every minute,
`emails.send_pending_billing_emails`); this command does the same by hand, or from cron where no
worker runs (`* * * * * cd /app && python manage.py billing_flush_outbox`, or
`billing_flush_outbox --loop`). Safe to run concurrently with them and to re-run: nothing is
reported or emailed twice. The emails are the shared billing emails (`apps.billing.emails`),
which `billing_send_emails` sends on its own too.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.billing.emails import send_pending_emails
from apps.billing.metering import flush_usage
from apps.billing.stripe_api import is_configured


class Command(BaseCommand):
    help = "Report pending usage to Stripe Billing Meters and send pending billing emails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep flushing until stopped.")
        parser.add_argument(
            "--interval", type=float, default=30.0, help="Seconds between flushes (--loop)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            self.flush_once()
            if not options["loop"]:
                return
            time.sleep(options["interval"])

    def flush_once(self) -> None:
        if is_configured():
            result = flush_usage()
            self.stdout.write(
                f"Usage: {result.reports_created} new meter reports, {result.sent} sent, "
                f"{result.failed} failed (retried next time)."
            )
        else:
            self.stderr.write("Stripe is not configured: set STRIPE_SECRET_KEY. Usage not sent.")
        sent, failed = send_pending_emails()
        self.stdout.write(f"Emails: {sent} sent, {failed} failed.")
