"""Webhook intake and processing (basic mode): verify, store once, queue, apply once.

The endpoint does little, in a fixed order: require the signature header, verify it, check the
body's shape, then store the raw event by its unique Stripe id (an INSERT that does nothing
when the id is stored already: that is the duplicate check) and queue its processing once the
row is committed (`tasks.queue_webhook_event`: in a batch, see `batching`). A redelivery of
an event not applied yet (received, deferred, failed) queues it again; one already applied is
only acknowledged.

A worker applies the event with `process_event`: it locks the stored event, runs its handler
and records the new status in the same transaction, so concurrent runs of one event (several
workers, a redelivery) queue up behind the lock and only the first applies it. An error rolls
the handler's writes back and records the error on the event: the task retries it with backoff.
An event that cannot be applied yet (its customer is not linked to a user) is kept as
`deferred` and applied as soon as the link appears, or as soon as Stripe says the customer was
deleted. An event of the other mode (test or live) than the secret key's is stored as ignored,
with the reason. The handlers, one per event type, are in `webhook_handlers`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .fast_sql import insert_event_once
from .models import StripeCustomer, WebhookEvent
from .stripe_objects import object_id
from .webhook_handlers import DeferEventError, apply_event, to_datetime
from .webhook_json import InvalidJSONBodyError, parse_json_body

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status
DONE_STATUSES = (Status.PROCESSED, Status.IGNORED)
#: 9999-12-31T23:59:59Z, the last instant a Python datetime can hold.
MAX_TIMESTAMP = 253_402_300_799


class WebhookRejectedError(Exception):
    """The request is not a valid, signed Stripe event: answer 400 and store nothing."""


class WebhookNotConfiguredError(Exception):
    """No webhook signing secret is configured: answer 503 so Stripe retries later."""


class EventProcessingError(Exception):
    """Applying a stored event failed; the error is recorded and the event will be retried."""

    def __init__(self, event: WebhookEvent) -> None:
        super().__init__(f"Processing {event.stripe_event_id} failed: {event.last_error}")
        self.event = event


def verify_and_parse(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """Check the signature (with Stripe's timestamp tolerance) and the event's shape."""
    if not signature:
        raise WebhookRejectedError("Missing Stripe-Signature header.")
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookNotConfiguredError("Set STRIPE_WEBHOOK_SECRET to receive Stripe webhooks.")
    try:
        body = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejectedError("The body is not UTF-8.") from exc
    if "\x00" in body or "\\u0000" in body:
        # Stripe never sends NUL characters, and PostgreSQL's jsonb cannot store them.
        raise WebhookRejectedError("The body contains a NUL character.")
    try:
        stripe.WebhookSignature.verify_header(
            body, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
        )
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejectedError(f"Invalid signature: {exc.user_message or exc}") from exc
    except Exception as exc:  # a malformed header must never become a 500
        raise WebhookRejectedError("Malformed Stripe-Signature header.") from exc
    try:
        event = parse_json_body(body)
    except InvalidJSONBodyError as exc:
        raise WebhookRejectedError(str(exc)) from exc
    _check_shape(event)
    # Stripe always sends both; a hand-made event (a test, a replay tool) may not. Its id is
    # then derived from the signed body, so a duplicate delivery is still recognised.
    if event.get("id") is None:
        event["id"] = "evt_body_" + hashlib.sha256(payload).hexdigest()[:40]
    if event.get("created") is None:
        event["created"] = int(time.time())
    return event


def _check_shape(event: Any) -> None:
    if not isinstance(event, dict):
        raise WebhookRejectedError("The event must be a JSON object.")
    if event.get("object", "event") != "event":
        raise WebhookRejectedError("The body is not a Stripe event.")
    event_id, event_type = event.get("id"), event.get("type")
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= 255):
        raise WebhookRejectedError("The event has no valid id.")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise WebhookRejectedError("The event has no valid type.")
    created = event.get("created")
    if created is not None and (
        not isinstance(created, int)
        or isinstance(created, bool)
        or not 0 < created <= MAX_TIMESTAMP
    ):
        raise WebhookRejectedError("The event has no valid created timestamp.")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejectedError("The event has no data.object.")
    validator = OBJECT_VALIDATORS.get(event_type)
    if validator is not None:
        problem = validator(data["object"])
        if problem:
            raise WebhookRejectedError(f"Malformed {event_type} object: {problem}.")


# --- shapes of the objects the handlers read (Stripe never sends anything else) ----------------


def _bad_string(obj: dict[str, Any], key: str, *, required: bool = False, size: int = 255) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > size:
        return f"{key} must be a string of at most {size} characters"
    return ""


def _bad_reference(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if isinstance(value, dict):
        return _bad_string(value, "id", required=True)
    return _bad_string(obj, key)


def _bad_timestamp(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TIMESTAMP:
        return f"{key} must be a Unix timestamp"
    return ""


def _bad_metadata(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    if metadata is None:
        return ""
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        return "metadata must map strings to strings"
    return ""


def _subscription_problem(obj: dict[str, Any]) -> str:
    checks = [
        _bad_string(obj, "id", required=True),
        _bad_reference(obj, "customer"),
        _bad_string(obj, "status", required=True, size=20),
        _bad_metadata(obj),
        _bad_reference(obj, "default_payment_method"),
        _bad_string(obj, "default_source"),
        *(_bad_timestamp(obj, key) for key in SUBSCRIPTION_TIMESTAMPS),
    ]
    if not isinstance(obj.get("cancel_at_period_end", False), bool):
        checks.append("cancel_at_period_end must be a boolean")
    items = obj.get("items", {"data": []})
    if not isinstance(items, dict) or not isinstance(items.get("data"), list):
        return "items.data must be a list"
    for item in items["data"]:
        if not isinstance(item, dict):
            return "items.data must hold objects"
        price = item.get("price")
        quantity = item.get("quantity")
        checks += [
            _bad_reference(item, "price"),
            *(_bad_timestamp(item, key) for key in ("current_period_start", "current_period_end")),
        ]
        if quantity is not None and (
            not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 <= quantity < 2**31
        ):
            checks.append("items.data.quantity must be a non-negative integer")
        if isinstance(price, dict) and price.get("nickname") is not None:
            checks.append(_bad_string(price, "nickname"))
    return next((problem for problem in checks if problem), "")


def _bad_currency(obj: dict[str, Any]) -> str:
    value = obj.get("currency")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) != 3 or not value.isascii() or not value.isalpha():
        return "currency must be a three-letter code"
    return ""


def _invoice_problem(obj: dict[str, Any]) -> str:
    checks = [
        _bad_string(obj, "id"),
        _bad_reference(obj, "customer"),
        _bad_string(obj, "customer_email", size=254),
        _bad_currency(obj),
        _bad_string(obj, "hosted_invoice_url", size=2000),
        _bad_string(obj, "number", size=255),
        _bad_string(obj, "billing_reason", size=100),
        _bad_timestamp(obj, "created"),
        _bad_reference(obj, "subscription"),
    ]
    amount = obj.get("amount_due")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
        checks.append("amount_due must be an integer")
    parent = obj.get("parent")
    if parent is not None:
        details = parent.get("subscription_details") if isinstance(parent, dict) else []
        if details is not None and not isinstance(details, dict):
            checks.append("parent.subscription_details must be an object")
        elif details:
            checks.append(_bad_reference(details, "subscription"))
    return next((problem for problem in checks if problem), "")


def _customer_problem(obj: dict[str, Any]) -> str:
    return _bad_string(obj, "id", required=True)


def _checkout_problem(obj: dict[str, Any]) -> str:
    checks = [
        _bad_string(obj, "id"),
        _bad_string(obj, "mode"),
        _bad_reference(obj, "customer"),
        _bad_string(obj, "client_reference_id", size=200),
        _bad_metadata(obj),
    ]
    return next((problem for problem in checks if problem), "")


def _schedule_problem(obj: dict[str, Any]) -> str:
    checks = [
        _bad_string(obj, "id", required=True),
        _bad_reference(obj, "customer"),
        _bad_reference(obj, "subscription"),
        _bad_reference(obj, "released_subscription"),
        _bad_string(obj, "status", required=True, size=20),
    ]
    current = obj.get("current_phase")
    if current is not None:
        if not isinstance(current, dict):
            return "current_phase must be an object"
        checks += [_bad_timestamp(current, "start_date"), _bad_timestamp(current, "end_date")]
    phases = obj.get("phases", [])
    if not isinstance(phases, list) or not all(isinstance(phase, dict) for phase in phases):
        return "phases must be a list of objects"
    for phase in phases:
        items = phase.get("items", [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            return "phases.items must be a list of objects"
        checks += [_bad_timestamp(phase, "start_date"), _bad_timestamp(phase, "end_date")]
        checks += [_bad_reference(item, "price") for item in items]
    return next((problem for problem in checks if problem), "")


SUBSCRIPTION_TIMESTAMPS = (
    "current_period_start",
    "current_period_end",
    "cancel_at",
    "canceled_at",
    "ended_at",
    "trial_end",
)
OBJECT_VALIDATORS: dict[str, Callable[[dict[str, Any]], str]] = {
    "customer.deleted": _customer_problem,
    "customer.subscription.created": _subscription_problem,
    "customer.subscription.updated": _subscription_problem,
    "customer.subscription.deleted": _subscription_problem,
    "customer.subscription.trial_will_end": _subscription_problem,
    "invoice.paid": _invoice_problem,
    "invoice.payment_succeeded": _invoice_problem,
    "invoice.payment_failed": _invoice_problem,
    "invoice.payment_action_required": _invoice_problem,
    "checkout.session.completed": _checkout_problem,
    **{
        f"subscription_schedule.{change}": _schedule_problem
        for change in ("created", "updated", "released", "canceled", "completed", "aborted")
    },
}


def _customer_of(obj: dict[str, Any]) -> str:
    if obj.get("object") == "customer":
        return object_id(obj.get("id"))
    return object_id(obj.get("customer"))[:255]


def _new_row(event: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent(
        stripe_event_id=event["id"],
        type=event["type"],
        api_version=str(event.get("api_version") or "")[:50],
        livemode=bool(event.get("livemode", False)),
        created=to_datetime(event["created"]),
        stripe_customer_id=_customer_of(event["data"]["object"]),
        payload=event,
    )


@dataclass(frozen=True)
class Receipt:
    """A delivery stored: the event's row and its status when this delivery arrived."""

    pk: int
    event_id: str
    status: str

    @property
    def needs_processing(self) -> bool:
        """Not applied yet (new, deferred or failed): queue it (again)."""
        return self.status not in DONE_STATUSES


def store_event(event: dict[str, Any]) -> Receipt:
    """Store the event unless its id is stored already (INSERT ... ON CONFLICT DO NOTHING, one
    statement: see `fast_sql`); a redelivery reads the stored row's status instead."""
    stored = insert_event_once(_new_row(event))
    if stored is None:
        stored = (
            WebhookEvent.objects.filter(stripe_event_id=event["id"])
            .values_list("pk", "status")
            .get()
        )
    return Receipt(stored[0], event["id"], stored[1])


def handle_webhook(*, payload: bytes, signature: str | None) -> Receipt:
    """Verify and store one delivery; the caller queues it when `needs_processing`."""
    return store_event(verify_and_parse(payload=payload, signature=signature))


# --- processing (in a worker) -----------------------------------------------------------------


def _record_outcome(row_pk: int, status: str, error: str) -> WebhookEvent:
    """Keep the event with what went wrong, in a transaction of its own."""
    with transaction.atomic():
        row = WebhookEvent.objects.select_for_update().get(pk=row_pk)
        if row.status not in DONE_STATUSES:  # unless another run applied it meanwhile
            row.status, row.last_error = status, error
            row.attempts += 1
            row.save(update_fields=["status", "last_error", "attempts"])
    return row


def _apply_locked(row_pk: int) -> tuple[WebhookEvent, Any]:
    """Lock the stored event, apply it unless it is done, record the outcome (one transaction)."""
    row = WebhookEvent.objects.select_for_update().get(pk=row_pk)
    if row.status in DONE_STATUSES:
        logger.info("Stripe event %s was already applied", row.stripe_event_id)
        return row, None
    outcome = apply_event(row.payload)
    row.status, row.last_error = outcome.status, outcome.detail
    row.attempts += 1
    row.processed_at = timezone.now()
    row.save(update_fields=["status", "last_error", "attempts", "processed_at"])
    return row, outcome


def process_event(row: WebhookEvent, *, recheck_link: bool = True) -> WebhookEvent:
    """Apply a stored event exactly once. Raises EventProcessingError if applying failed.

    The handler runs in the same transaction as the event's new status, so both commit
    together. If it fails, everything it wrote is rolled back and the failure is recorded on
    the event in a second transaction: nothing is half-written, nothing is lost.
    """
    try:
        with transaction.atomic():
            row, outcome = _apply_locked(row.pk)
    except DeferEventError as exc:
        row = _record_outcome(row.pk, Status.DEFERRED, str(exc))
        logger.info("Deferred Stripe event %s: %s", row.stripe_event_id, exc)
        return _unless_linked_meanwhile(row) if recheck_link else row
    except Exception as exc:
        logger.exception("Failed to apply Stripe event %s", row.stripe_event_id)
        row = _record_outcome(row.pk, Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise EventProcessingError(row) from exc
    if outcome is not None and outcome.linked_customer_id:
        replay_deferred(stripe_customer_id=outcome.linked_customer_id)
    return row


def _unless_linked_meanwhile(row: WebhookEvent) -> WebhookEvent:
    """Apply a just-deferred event at once if its customer was linked while it was deferred.

    Another worker may link the customer (and replay what waited for it) between this event's
    read and its `deferred` commit: that replay did not see this event yet. Whichever commits
    last sees the other's work, so checking here, after the commit, leaves nothing waiting.
    """
    if row.status != Status.DEFERRED or not row.stripe_customer_id:
        return row
    if not StripeCustomer.objects.filter(stripe_customer_id=row.stripe_customer_id).exists():
        return row
    try:
        return process_event(row, recheck_link=False)
    except EventProcessingError as exc:
        return exc.event


def replay_deferred(*, stripe_customer_id: str) -> list[WebhookEvent]:
    """Apply, oldest first, the events that waited for this customer to be linked."""
    pending = WebhookEvent.objects.filter(
        stripe_customer_id=stripe_customer_id, status=Status.DEFERRED
    ).order_by("created", "pk")
    return retry_events(pending)


def retry_events(rows: Iterable[WebhookEvent]) -> list[WebhookEvent]:
    """Re-apply failed or deferred events; a failure is recorded and the next one still runs."""
    done: list[WebhookEvent] = []
    for row in rows:
        try:
            done.append(process_event(row))
        except EventProcessingError as exc:
            done.append(exc.event)
    return done
