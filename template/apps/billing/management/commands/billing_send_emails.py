"""Send the billing emails still pending (their first attempt failed): run it from a scheduler."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.billing.emails import send_pending_emails


class Command(BaseCommand):
    help = "Send pending billing emails (payment failed, authentication needed, trial ending)."

    def handle(self, *args: Any, **options: Any) -> None:
        sent, failed = send_pending_emails()
        self.stdout.write(f"{sent} sent, {failed} still pending")
