"""Apply again, here and now, the Stripe events that failed or wait for their customer.

A failed event's task retries it with backoff, then gives up and leaves it failed: run this
(or the admin's action) once what made it fail is fixed, e.g. after an outage. The worker's
periodic sweep (`tasks.retry_webhook_events`) already applies deferred events once their
customer is known.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.billing.models import WebhookEvent
from apps.billing.webhooks import retry_events


class Command(BaseCommand):
    help = "Re-apply failed and deferred Stripe webhook events, oldest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--include-deferred",
            action="store_true",
            help="Also retry events still waiting for their customer to be linked.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = [WebhookEvent.Status.FAILED]
        if options["include_deferred"]:
            statuses.append(WebhookEvent.Status.DEFERRED)
        rows = WebhookEvent.objects.filter(status__in=statuses).order_by("created", "pk")
        results = retry_events(rows)
        for row in results:
            self.stdout.write(f"{row.stripe_event_id} {row.type}: {row.status}")
        done = sum(row.status == WebhookEvent.Status.PROCESSED for row in results)
        self.stdout.write(self.style.SUCCESS(f"{done} of {len(results)} events applied."))
