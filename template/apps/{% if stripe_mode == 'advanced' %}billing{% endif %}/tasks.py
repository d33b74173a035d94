"""Billing's background work (advanced mode), run by a Celery worker (`make worker`), or
in-process when no broker is configured. The schedule of the periodic ones is
BILLING_BEAT_SCHEDULE (config/settings/billing.py), run by `make beat`.

- process_webhook_events   the stored Stripe events of a batch, queued by the web processes
                           (`batching`): each applied through dj-stripe
                           (`webhook_handlers.apply_webhook_event`); one that fails is
                           retried alone, by process_webhook_event
- process_webhook_event    one stored Stripe event, retried with growing delays while it fails
- retry_webhook_events     every minute: queues again the events whose queued work was lost
- report_usage             every minute: usage of metered plans to Stripe Billing Meters
- reconcile_subscriptions  nightly: local subscriptions corrected from Stripe, then teams'
                           per-seat quantities set to their member counts
- sync_seats               a team's per-seat quantity set to its member count, queued by every
                           change of its members, retried with growing delays while Stripe fails

Every task may run twice (a worker killed mid-task runs it again: acks_late) and several at
once: each one finds out from the database what is left to do, and locks what it works on.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.utils import timezone

from . import metering, reconciliation, team_billing
from .batching import BatchSender, in_batches, queue_after_commit
from .models import WebhookEvent
from .seats import SEAT_SYNC_RETRIES, run_seat_sync
from .stripe_api import is_configured
from .webhook_handlers import PENDING_STATUSES, Outcome, apply_webhook_event

logger = logging.getLogger(__name__)

#: Retries of a failed event: 30 s, 1 min, 2 min, ... capped at 30 min (under the broker's
#: visibility timeout, so a waiting retry is not handed to a second worker), 8 in all (about
#: 1.5 hours). Then the event stays failed, with its error, for staff to process again.
MAX_RETRIES = 8
RETRY_BACKOFF_CAP = 1800
#: An event that is still not done this long after it was due to run is queued again (its
#: message was lost: a broker restarted without its data, a process died between the
#: commit and the send). A duplicate is harmless: the worker that gets it second skips it.
LOST_AFTER = timedelta(minutes=10)


def retry_delay(retries: int) -> int:
    """Seconds before retry number `retries + 1` of a failed event."""
    return min(RETRY_BACKOFF_CAP, 30 * 2**retries)


#: This process's sender of stored events to the workers (see `batching` for why in batches).
webhook_batches = BatchSender(lambda pks: process_webhook_events.delay(pks), name="webhook events")


def queue_webhook_event(event_pk: int) -> None:
    """Hand a stored event to the workers after commit, in a batch (with no broker: applied
    in-process)."""
    queue_after_commit(event_pk, sender=webhook_batches, in_process=process_webhook_event.delay)


@shared_task
def process_webhook_events(event_pks: list[int]) -> dict[str, int]:
    """Apply a batch of stored events in turn; one that fails is retried alone, with growing
    delays (`process_webhook_event`), and does not hold up the others. The count of each
    outcome."""
    outcomes: Counter[str] = Counter()
    for event_pk in event_pks:
        outcome = apply_webhook_event(event_pk, retry_in=retry_delay(0))
        outcomes[outcome.value] += 1
        if outcome is Outcome.FAILED:
            process_webhook_event.apply_async((event_pk,), countdown=retry_delay(0), retries=1)
    return dict(outcomes)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def process_webhook_event(self: Task, event_pk: int) -> str:
    """Apply one stored event; retried with growing delays while it fails."""
    # In-process (no broker) a retry would run at once, inside the webhook's request: the
    # event waits, failed, for staff or for a worker's periodic retry instead.
    will_retry = not self.request.is_eager and self.request.retries < MAX_RETRIES
    delay = retry_delay(self.request.retries) if will_retry else None
    outcome = apply_webhook_event(event_pk, retry_in=delay)
    if outcome is Outcome.FAILED and delay is not None:
        raise self.retry(countdown=delay)
    return outcome.value


@shared_task
def retry_webhook_events(limit: int = 1000) -> int:
    """Periodic: queue again the events not done long after they were due; how many."""
    now = timezone.now()
    lost = list(
        WebhookEvent.objects.filter(
            status__in=PENDING_STATUSES, next_attempt_at__lt=now - LOST_AFTER
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    # Due again in LOST_AFTER if this message is lost too (or the backlog is that long).
    WebhookEvent.objects.filter(pk__in=lost).update(next_attempt_at=now)
    for batch in in_batches(lost):
        process_webhook_events.delay(batch)
    if lost:
        logger.warning("%d Stripe events queued again: their queued work was lost", len(lost))
    return len(lost)


def requeue_webhook_events(event_pks: list[int]) -> int:
    """Staff's "Process again": queue these events now, failed or not yet done; how many."""
    pending = list(
        WebhookEvent.objects.filter(pk__in=event_pks, status__in=PENDING_STATUSES).values_list(
            "pk", flat=True
        )
    )
    WebhookEvent.objects.filter(pk__in=pending).update(next_attempt_at=timezone.now())
    for event_pk in pending:
        queue_webhook_event(event_pk)
    return len(pending)


@shared_task
def report_usage() -> dict[str, Any]:
    """Periodic: report pending usage to Stripe Billing Meters (`metering.flush_usage`)."""
    if not is_configured():
        logger.warning("Stripe is not configured: set STRIPE_SECRET_KEY. Usage not reported.")
        return {}
    return asdict(metering.flush_usage())


@shared_task
def reconcile_subscriptions() -> dict[str, int]:
    """Nightly: correct local subscriptions from Stripe (`reconciliation`); the counts."""
    if not is_configured():
        logger.warning("Stripe is not configured: set STRIPE_SECRET_KEY. Nothing reconciled.")
        return {}
    result = reconciliation.reconcile_subscriptions()
    seats = team_billing.reconcile_seats()
    return {
        "checked": result.checked,
        "corrected": len(result.corrections),
        "failed": len(result.failed),
        "seats": len(seats),
    }


@shared_task(bind=True, max_retries=SEAT_SYNC_RETRIES)
def sync_seats(self: Task, team_id: int) -> str:
    """Set a team's per-seat quantity to its member count (`team_billing.sync_seats`), retried
    with backoff while Stripe fails (`seats.run_seat_sync`)."""
    return run_seat_sync(self, team_id, sync=team_billing.sync_seats, countdown=retry_delay)
