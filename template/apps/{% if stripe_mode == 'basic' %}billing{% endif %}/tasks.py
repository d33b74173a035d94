"""What the task queue runs for billing (basic mode), in a Celery worker (`make worker`), or
in-process when no broker is configured.

- `process_webhook_events`: apply the stored Stripe events of a batch, queued by the web
  processes (`batching`); one that fails is retried alone, by `process_webhook_event`.
- `process_webhook_event`: apply one stored Stripe event, retried with backoff while it fails.
- `retry_webhook_events` (every minute, `make beat`): apply deferred events whose customer is
  known now, and queue again events that were stored but never processed.
- `reconcile_subscriptions` (nightly): re-read the live subscriptions from Stripe and correct
  what a lost or mis-configured webhook left wrong, then set every team's per-seat quantity
  to its member count (`team_billing.reconcile_seats`).
- `sync_seats`: a team's per-seat quantity set to its member count, queued by every change of
  its members, retried with backoff while Stripe fails.

Every task may run twice (a worker killed before it acknowledged one, a redelivery): each is
idempotent, because `webhooks.process_event` locks the event and applies it once.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from celery import Task, shared_task
from django.db import DatabaseError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import team_billing, webhooks
from .batching import BatchSender, in_batches, queue_after_commit
from .models import StripeCustomer, WebhookEvent
from .seats import SEAT_SYNC_RETRIES, run_seat_sync
from .services import reconcile_subscriptions as reconcile

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status
#: Retries of an event that failed: 30 s, 1 min, 2 min, ... capped at 30 min, 8 times (about 1.5
#: hours in all); then it stays failed, with its error, for staff to retry from the admin.
MAX_RETRIES = 8
RETRY_BACKOFF_CAP = 1800
#: An event still `received` this long after it arrived was never queued, or its message was
#: lost (a web process that died before sending it, a broker that lost its data): the
#: periodic sweep queues it again. A duplicate is harmless: the second run finds it done.
STALLED_AFTER = timedelta(minutes=10)
STALLED_BATCH = 1000

#: This process's sender of stored events to the workers (see `batching` for why in batches).
webhook_batches = BatchSender(lambda pks: process_webhook_events.delay(pks), name="webhook events")


def queue_webhook_event(event_pk: int) -> None:
    """Hand a stored event to the workers after commit, in a batch (with no broker: applied
    in-process)."""
    queue_after_commit(event_pk, sender=webhook_batches, in_process=process_webhook_event.delay)


def retry_delay(retries: int) -> int:
    """Seconds before retry number `retries + 1` of a failed event."""
    return min(RETRY_BACKOFF_CAP, 30 * 2**retries)


def apply_stored_event(event_pk: int) -> str:
    """Apply a stored event once; its new status ("missing" if staff deleted it since it was
    queued). Raises when applying it failed: the error is recorded on the event."""
    row = WebhookEvent.objects.filter(pk=event_pk).first()
    if row is None:
        return "missing"
    return str(webhooks.process_event(row).status)


@shared_task
def process_webhook_events(event_pks: list[int]) -> dict[str, int]:
    """Apply a batch of stored events in turn; one that fails is retried alone, with backoff
    (`process_webhook_event`), and does not hold up the others. The count of each outcome."""
    outcomes: Counter[str] = Counter()
    for event_pk in event_pks:
        try:
            outcomes[apply_stored_event(event_pk)] += 1
        except (webhooks.EventProcessingError, DatabaseError):
            outcomes[Status.FAILED] += 1
            process_webhook_event.apply_async((event_pk,), countdown=retry_delay(0), retries=1)
    return dict(outcomes)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def process_webhook_event(self: Task, event_pk: int) -> str:
    """Apply a stored event once; retried with backoff while applying it fails."""
    try:
        return apply_stored_event(event_pk)
    except (webhooks.EventProcessingError, DatabaseError) as exc:
        retries = self.request.retries
        # In-process (no broker, or called directly) a retry would run at once, inside the
        # request: the event stays failed for a redelivery, the sweep or staff instead.
        if self.request.is_eager or self.request.called_directly:
            return Status.FAILED
        if retries >= MAX_RETRIES:
            logger.error(
                "Gave up on Stripe event row %s after %d attempts; retry it from the admin",
                event_pk,
                retries + 1,
            )
            return Status.FAILED
        raise self.retry(exc=exc, countdown=retry_delay(retries)) from exc


@shared_task
def retry_webhook_events() -> dict[str, int]:
    """Every minute: apply the deferred events whose customer is known now, and queue again the
    events left `received` for STALLED_AFTER. Failed events are not swept: their own task
    retries them with backoff, then they wait for staff (a broken event would otherwise be
    retried, and logged, every minute forever)."""
    known = StripeCustomer.objects.filter(stripe_customer_id=OuterRef("stripe_customer_id"))
    deferred = WebhookEvent.objects.filter(Exists(known), status=Status.DEFERRED).order_by(
        "created", "pk"
    )
    replayed = webhooks.retry_events(deferred)
    stalled = list(
        WebhookEvent.objects.filter(
            status=Status.RECEIVED, received_at__lt=timezone.now() - STALLED_AFTER
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:STALLED_BATCH]
    )
    for event_pk in stalled:
        logger.warning("Stripe event row %s was never processed: queued again", event_pk)
    for batch in in_batches(stalled):
        process_webhook_events.delay(batch)
    return {"deferred": len(replayed), "requeued": len(stalled)}


@shared_task
def reconcile_subscriptions() -> int:
    """Nightly: correct local subscriptions from Stripe's, then teams' seats from their
    members; the number of corrections."""
    corrections = len(reconcile())
    return corrections + len(team_billing.reconcile_seats())


@shared_task(bind=True, max_retries=SEAT_SYNC_RETRIES)
def sync_seats(self: Task, team_id: int) -> str:
    """Set a team's per-seat quantity to its member count (`team_billing.sync_seats`), retried
    with backoff while Stripe fails (`seats.run_seat_sync`)."""
    return run_seat_sync(self, team_id, sync=team_billing.sync_seats, countdown=retry_delay)
