"""Usage reporting to Stripe Billing Meters (advanced mode): an outbox, flushed off-request.

`record_usage` only writes a `UsageRecord` row; no request ever waits on Stripe. The flush
(`manage.py billing_flush_outbox`, run every minute from cron or as a worker with `--loop`):

1. groups unreported records per customer and meter into a `MeterReport` whose value is their
   sum and whose `identifier` is chosen once, in the same transaction that claims the records;
2. sends each unsent report as one meter event with that identifier, and marks it sent.

A report that failed is sent again, with the same identifier, on the next flush; Stripe
ignores a meter event whose identifier it has already seen, so a retry after a lost response
cannot count usage twice, and a claimed record belongs to exactly one report. Meters must
aggregate with `sum` (the value of one report is the sum of several uses).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import stripe
from django.db import transaction
from django.utils import timezone

from .models import MeterReport, UsageRecord
from .stripe_api import request_options

logger = logging.getLogger(__name__)

#: Stripe refuses meter events older than 35 days; such reports cannot be sent any more.
MAX_EVENT_AGE_DAYS = 35


@dataclass(frozen=True)
class FlushResult:
    reports_created: int
    sent: int
    failed: int


def build_reports(*, limit: int = 5000) -> list[MeterReport]:
    """Claim up to `limit` unreported records and group them into new reports."""
    with transaction.atomic():
        records = list(
            UsageRecord.objects.select_for_update(skip_locked=True)
            .filter(report__isnull=True)
            .exclude(meter_event_name="")
            .order_by("id")[:limit]
        )
        groups: dict[tuple[str, str], list[UsageRecord]] = defaultdict(list)
        for record in records:
            groups[(record.stripe_customer_id, record.meter_event_name)].append(record)
        reports = []
        for (customer_id, event_name), group in groups.items():
            report = MeterReport.objects.create(
                identifier=f"usage_{uuid.uuid4().hex}",
                event_name=event_name,
                stripe_customer_id=customer_id,
                value=sum(record.quantity for record in group),
                timestamp=max(record.timestamp for record in group),
            )
            UsageRecord.objects.filter(pk__in=[record.pk for record in group]).update(report=report)
            reports.append(report)
    return reports


def send_report(report_id: int) -> bool | None:
    """Send one report (locked, so two flushes never send it together). None: nothing to do."""
    with transaction.atomic():
        report = (
            MeterReport.objects.select_for_update(skip_locked=True)
            .filter(pk=report_id, sent_at__isnull=True)
            .first()
        )
        if report is None:
            return None
        report.attempts += 1
        if report.timestamp < timezone.now() - timedelta(days=MAX_EVENT_AGE_DAYS):
            report.last_error = "Older than Stripe accepts for meter events (35 days)."
            report.save(update_fields=["attempts", "last_error"])
            return False
        try:
            stripe.billing.MeterEvent.create(
                event_name=report.event_name,
                identifier=report.identifier,
                payload={
                    "stripe_customer_id": report.stripe_customer_id,
                    "value": str(report.value),
                },
                timestamp=int(report.timestamp.timestamp()),
                **request_options(),
            )
        except stripe.StripeError as exc:
            report.last_error = f"{type(exc).__name__}: {exc.user_message or exc}"[:2000]
            report.save(update_fields=["attempts", "last_error"])
            logger.warning("Meter report %s not sent: %s", report.identifier, report.last_error)
            return False
        report.sent_at = timezone.now()
        report.last_error = ""
        report.save(update_fields=["attempts", "last_error", "sent_at"])
        return True


def flush_usage(*, limit: int = 5000) -> FlushResult:
    """Report all pending usage: build new reports, then send every unsent one, oldest first."""
    created = build_reports(limit=limit)
    sent = failed = 0
    pending = MeterReport.objects.filter(sent_at__isnull=True).order_by("created_at", "pk")
    for report_id in list(pending.values_list("pk", flat=True)[:limit]):
        outcome = send_report(report_id)
        if outcome is True:
            sent += 1
        elif outcome is False:
            failed += 1
    return FlushResult(reports_created=len(created), sent=sent, failed=failed)
