"""Stripe event handlers (basic mode): one small function per event type.

Handled events:
- checkout.session.completed            links the session's Stripe customer to its user
- customer.subscription.created         creates the Subscription row
- customer.subscription.updated         updates it (newer states only)
- customer.subscription.deleted         marks it canceled: access ends
- customer.subscription.trial_will_end  emails a reminder (off with BILLING_TRIAL_REMINDER_EMAILS)
- customer.deleted                      unlinks the customer: the user can subscribe again
- invoice.paid                          records a paid period invoice: its period starts, once
- invoice.payment_succeeded             the same (invoice.paid alone comes for out-of-band payments)
- invoice.payment_failed                emails the customer a link to fix their payment method
- invoice.payment_action_required       emails the customer a link to confirm the payment (3DS)
- subscription_schedule.*               records a plan change waiting for the period end
                                        (created, updated, released, canceled, completed, ...)

Handlers run in a worker, inside the transaction `webhooks.process_event` opens, once per event.
Emails are stored in that transaction and sent by a task after it commits
(`apps.billing.emails`), so a rollback never leaves one sent. Events of the other mode (a test
event while a live secret key is configured, or the reverse) and types without a handler are
stored and marked ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from .customers import link_customer, unlink_customer
from .emails import BillingEmail, billing_page_url, invoice_context, queue_email
from .lifecycle import TERMINAL_STATUSES, UNENDED_STATUSES
from .models import (
    CHANGED_IN_APP,
    DEFAULT_EVENT_RANK,
    EVENT_RANK,
    OPEN_SCHEDULE_STATUSES,
    READ_FROM_API,
    StripeCustomer,
    Subscription,
    SubscriptionSchedule,
    WebhookEvent,
)
from .plans import Plan, get_plan_by_price_id
from .stripe_api import livemode, request_options
from .stripe_objects import invoice_subscription_id, object_id

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status
#: Invoices whose payment starts a billing period (not prorations or one-off invoices).
PERIOD_INVOICE_REASONS = ("subscription_create", "subscription_cycle")


class DeferEventError(Exception):
    """Raised by a handler when an event cannot be applied yet (it will be replayed)."""


@dataclass(frozen=True)
class Outcome:
    status: str = Status.PROCESSED
    detail: str = ""
    #: Set when the event linked (or unlinked) a Stripe customer: deferred events are replayed.
    linked_customer_id: str = ""


Handler = Callable[[dict[str, Any]], Outcome]


def to_datetime(timestamp: Any) -> datetime | None:
    if timestamp in (None, ""):
        return None
    return datetime.fromtimestamp(int(timestamp), tz=UTC)


def apply_event(event: dict[str, Any]) -> Outcome:
    other_mode = _other_mode(event)
    if other_mode:
        return Outcome(Status.IGNORED, other_mode)
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return Outcome(Status.IGNORED, f"No handler for {event['type']}.")
    return handler(event)


def _other_mode(event: dict[str, Any]) -> str:
    """Why an event of the other mode must not change anything ('' when it is of this one).

    Test and live mode are separate worlds at Stripe: one endpoint may receive both (a shared
    URL, a replay tool), and test data must never grant or end access in production."""
    live = livemode()
    if (event.get("livemode") is True) == live:
        return ""
    if live:
        return "A test-mode event, and the secret key is a live key: not applied."
    return "A live-mode event, and the secret key is a test key: not applied."


# --- customers --------------------------------------------------------------------------------


def _user_from_reference(reference: Any) -> Any:
    if reference in (None, ""):
        return None
    try:
        return get_user_model().objects.filter(pk=int(reference)).first()
    except (TypeError, ValueError, OverflowError):
        return None


def _resolve_customer(obj: dict[str, Any]) -> tuple[StripeCustomer, bool]:
    """The StripeCustomer of an object and whether this call linked it (metadata), or defer."""
    customer_id = object_id(obj.get("customer"))
    customer = StripeCustomer.objects.filter(stripe_customer_id=customer_id).first()
    if customer is not None:
        return customer, False
    user = _user_from_reference((obj.get("metadata") or {}).get("user_id"))
    if user is not None and customer_id:
        return link_customer(user=user, stripe_customer_id=customer_id), True
    raise DeferEventError(f"Stripe customer {customer_id or '?'} is not linked to a user yet.")


def link_checkout_customer(session: dict[str, Any]) -> Outcome:
    """Link a completed subscription Checkout's customer to the user who started it."""
    if session.get("mode") != "subscription":
        return Outcome(Status.IGNORED, "Not a subscription checkout.")
    customer_id = object_id(session.get("customer"))
    if (session.get("metadata") or {}).get("team_id"):
        # A team pays as its own customer, linked to the team before checkout: the user who
        # bought for the team must not become that customer's owner.
        return Outcome(detail=f"Team checkout of {customer_id}: the team's customer.")
    reference = session.get("client_reference_id") or (session.get("metadata") or {}).get("user_id")
    user = _user_from_reference(reference)
    if user is None or not customer_id:
        logger.warning("Checkout session %s has no known user", session.get("id"))
        return Outcome(Status.IGNORED, "No user or customer on the session.")
    link_customer(user=user, stripe_customer_id=customer_id)
    return Outcome(
        detail=f"Linked {customer_id} to user {user.pk}.", linked_customer_id=customer_id
    )


def handle_checkout_completed(event: dict[str, Any]) -> Outcome:
    return link_checkout_customer(event["data"]["object"])


def handle_customer_deleted(event: dict[str, Any]) -> Outcome:
    """Stripe deleted the customer (and canceled its subscriptions): unlink it from its user,
    who can then subscribe again as a new customer. Events still waiting for this customer are
    replayed: they apply to its (unlinked) rows instead of waiting forever."""
    customer_id = object_id(event["data"]["object"].get("id"))
    if not customer_id:
        return Outcome(Status.IGNORED, "No customer id.")
    unlink_customer(customer_id, at=to_datetime(event["created"]))
    return Outcome(
        detail=f"Unlinked deleted customer {customer_id}.", linked_customer_id=customer_id
    )


# --- subscriptions ----------------------------------------------------------------------------


def _plan_item(obj: dict[str, Any]) -> tuple[dict[str, Any], Plan | None]:
    """The item that carries the plan and its plan: the first item whose price is a configured
    plan (a base plan beside add-ons, in any order), else the first item and no plan."""
    items = [item for item in ((obj.get("items") or {}).get("data") or []) if item]
    for item in items:
        plan = get_plan_by_price_id(object_id(item.get("price")))
        if plan is not None:
            return dict(item), plan
    return (dict(items[0]) if items else {}), None


def subscription_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """Model fields from a Stripe subscription, periods read from its items (API ≥ 2025-03-31)."""
    item, plan = _plan_item(obj)
    price = item.get("price") or {}
    price_id = object_id(price)
    if plan is not None:
        plan_name = plan.name
    elif isinstance(price, dict):
        plan_name = price.get("nickname") or price_id
    else:
        plan_name = price_id

    def period(key: str) -> datetime | None:
        # Current API: on the item. Older API versions: on the subscription.
        return to_datetime(item.get(key) if item.get(key) is not None else obj.get(key))

    return {
        "status": str(obj.get("status") or ""),
        "price_id": price_id,
        "plan_name": plan_name[:100],
        "quantity": int(item.get("quantity") or 1),
        "current_period_start": period("current_period_start"),
        "current_period_end": period("current_period_end"),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        "cancel_at": to_datetime(obj.get("cancel_at")),
        "canceled_at": to_datetime(obj.get("canceled_at")),
        "ended_at": to_datetime(obj.get("ended_at")),
        "trial_end": to_datetime(obj.get("trial_end")),
    }


def _is_stale(row: Subscription, fields: dict[str, Any]) -> str:
    """Why this new state (`fields`, with the `last_event_at` and `last_event_type` it comes
    from) must not overwrite the row ('' if it may)."""
    if row.status in TERMINAL_STATUSES and fields["status"] not in TERMINAL_STATUSES:
        return f"subscription is already {row.status}"
    if row.last_event_at is None:
        return ""
    event_at = fields["last_event_at"]
    if event_at < row.last_event_at:
        return "a newer event was already applied"
    if event_at == row.last_event_at and EVENT_RANK.get(
        fields["last_event_type"], DEFAULT_EVENT_RANK
    ) < EVENT_RANK.get(row.last_event_type, DEFAULT_EVENT_RANK):
        return "a later lifecycle event of the same second was already applied"
    return ""


def _holds(obj: Any, attributes: Any) -> bool:
    """Whether `obj` has these attribute values (nested objects compared key by key)."""
    if isinstance(attributes, dict):
        return isinstance(obj, dict) and all(
            _holds(obj.get(key), value) for key, value in attributes.items()
        )
    return bool(obj == attributes)


def _is_older_of_one_second(row: Subscription, obj: dict[str, Any], previous: Any) -> str:
    """Why this event is older than the one the row holds, both of one second and one rank, where
    `_is_stale` cannot tell ('' if it is not older, or if that cannot be told).

    Stripe's timestamps are whole seconds, and a renewal that fails sends two
    customer.subscription.updated of the same second (the new period, then past_due), which
    workers may apply in any order. Each event's `previous_attributes` holds the values it
    changed: the event whose previous attributes are the other's values came after it. When
    both or neither match, the later applied wins."""
    if not row.last_event_id:
        return ""
    applied = (
        WebhookEvent.objects.filter(stripe_event_id=row.last_event_id)
        .values_list("payload", flat=True)
        .first()
    )
    data = (applied.get("data") or {}) if isinstance(applied, dict) else {}
    applied_previous = data.get("previous_attributes")
    comes_after = isinstance(previous, dict) and bool(previous)
    comes_after = comes_after and _holds(data.get("object"), previous)
    comes_before = isinstance(applied_previous, dict) and bool(applied_previous)
    comes_before = comes_before and _holds(obj, applied_previous)
    if comes_before and not comes_after:
        return "a later event of the same second was already applied"
    return ""


def _same_second_and_rank(row: Subscription, fields: dict[str, Any]) -> bool:
    return (
        row.last_event_at == fields["last_event_at"]
        and fields["last_event_type"] != READ_FROM_API
        and EVENT_RANK.get(row.last_event_type, DEFAULT_EVENT_RANK)
        == EVENT_RANK.get(fields["last_event_type"], DEFAULT_EVENT_RANK)
    )


def _ties_a_change_made_in_app(row: Subscription, fields: dict[str, Any]) -> bool:
    """Whether an event shares its second with a change the app made and recorded (a cancel,
    a resume, a plan change): nothing in the event orders the two. A cancel and a resume in
    one second send an event that, delivered after the resume, would cancel again."""
    return (
        row.last_event_type == CHANGED_IN_APP
        and fields["last_event_type"] not in (CHANGED_IN_APP, READ_FROM_API)
        and row.last_event_at == fields["last_event_at"]
    )


def _current_state_at_stripe(subscription_id: str, *, at: datetime) -> dict[str, Any]:
    """The subscription as Stripe has it now, recorded as the app's own change of that second
    (so a further event of the second reads Stripe again). A failed read fails the event,
    which is retried."""
    remote = stripe.Subscription.retrieve(subscription_id, **request_options())
    fields = subscription_fields(remote.to_dict())
    fields.update(last_event_at=at, last_event_type=CHANGED_IN_APP, last_event_id="")
    return fields


def apply_subscription(
    obj: dict[str, Any],
    *,
    at: datetime,
    source: str,
    event_id: str = "",
    previous: dict[str, Any] | None = None,
) -> Outcome:
    """Create or update the Subscription row from a Stripe subscription, unless a newer state
    was applied already. `at` is when Stripe had this state (an event's `created`), `source`
    where it comes from (the event type, or `READ_FROM_API`), and `event_id` and `previous`
    the event's id and `previous_attributes`: the webhook, the success page and the nightly
    reconciliation write through here, in any order, with the same result."""
    subscription_id = object_id(obj.get("id"))
    if not subscription_id.startswith("sub_"):
        raise ValueError(f"The {source} carries no subscription id.")
    fields = subscription_fields(obj)
    fields.update(last_event_at=at, last_event_type=source, last_event_id=event_id)
    customer_id = object_id(obj.get("customer"))
    # The row is locked while its state is compared and written: concurrent events of one
    # subscription queue up here, and the newest state stays, whatever order they come in.
    row = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(stripe_subscription_id=subscription_id)
        .first()
    )
    linked = False
    if row is not None and row.customer.stripe_customer_id == customer_id:
        customer = row.customer
    else:
        customer, linked = _resolve_customer(obj)
    linked_customer_id = customer.stripe_customer_id if linked else ""
    if row is None:
        try:
            with transaction.atomic():
                row = Subscription.objects.create(
                    customer=customer, stripe_subscription_id=subscription_id, **fields
                )
            _report_second_live_subscription(row)
            return Outcome(
                detail=f"Created {subscription_id} ({fields['status']}).",
                linked_customer_id=linked_customer_id,
            )
        except IntegrityError:
            # Created concurrently by another event: fall through to the ordered update.
            row = (
                Subscription.objects.select_for_update()
                .filter(stripe_subscription_id=subscription_id)
                .first()
            )
            if row is None:
                raise
    stale = _is_stale(row, fields)
    if not stale and _ties_a_change_made_in_app(row, fields):
        fields = _current_state_at_stripe(subscription_id, at=row.last_event_at)
    elif not stale and _same_second_and_rank(row, fields):
        stale = _is_older_of_one_second(row, obj, previous)
    if stale:
        return Outcome(detail=f"Skipped: {stale}.", linked_customer_id=linked_customer_id)
    for name, value in fields.items():
        setattr(row, name, value)
    row.customer = customer
    row.save()
    return Outcome(
        detail=f"Updated {subscription_id} ({row.status}).", linked_customer_id=linked_customer_id
    )


def _report_second_live_subscription(row: Subscription) -> None:
    """Log an error when a user (or customer) now has two subscriptions that are not ended.

    Checkout refuses a second one, so this means something got past it (two Checkout pages
    paid at once, a subscription made in the Stripe dashboard). Nothing is canceled here:
    staff decide, with the admin's "More than one live subscription" filter."""
    if row.status not in UNENDED_STATUSES:
        return
    others = Subscription.objects.filter(status__in=UNENDED_STATUSES).exclude(pk=row.pk)
    user_id = row.customer.user_id
    others = (
        others.filter(customer__user_id=user_id)
        if user_id
        else others.filter(customer=row.customer)
    )
    other = others.order_by("-created_at").first()
    if other is not None:
        logger.error(
            "More than one live subscription for user %s (customer %s): %s (%s) and %s (%s). "
            "Nothing was canceled: decide in the admin which one to keep.",
            user_id or "-",
            row.customer.stripe_customer_id,
            other.stripe_subscription_id,
            other.status,
            row.stripe_subscription_id,
            row.status,
        )


def handle_subscription_event(event: dict[str, Any]) -> Outcome:
    created = to_datetime(event["created"])
    assert created is not None  # the intake fills in `created`
    return apply_subscription(
        event["data"]["object"],
        at=created,
        source=event["type"],
        event_id=event["id"],
        previous=event["data"].get("previous_attributes"),
    )


def handle_trial_will_end(event: dict[str, Any]) -> Outcome:
    """Three days before a trial ends (Stripe's default), remind the customer, once."""
    if not settings.BILLING_TRIAL_REMINDER_EMAILS:
        return Outcome(Status.IGNORED, "Trial reminders are off (BILLING_TRIAL_REMINDER_EMAILS).")
    subscription = event["data"]["object"]
    trial_end = to_datetime(subscription.get("trial_end"))
    if trial_end is None:
        return Outcome(Status.IGNORED, "The subscription has no trial end.")
    to = _recipient(subscription)
    if to is None:
        return Outcome(Status.IGNORED, "Its Stripe customer was deleted: nobody to remind.")
    queue_email(
        event_id=event["id"],
        kind=BillingEmail.Kind.TRIAL_WILL_END,
        to=to,
        subject=f"Your {settings.PROJECT_NAME} trial ends soon",
        template="emails/trial_will_end.txt",
        context={
            "plan_name": subscription_fields(subscription)["plan_name"],
            "trial_end": trial_end,
            "has_payment_method": bool(
                subscription.get("default_payment_method") or subscription.get("default_source")
            ),
            "manage_url": billing_page_url(),
        },
    )
    return Outcome(detail=f"Trial reminder queued for {to}.")


# --- subscription schedules (plan changes at the period end) ---------------------------------

#: Among schedule states of one second, `created` loses to the rest (the change-plan page
#: creates a schedule, then gives it its phases, within a second).
SCHEDULE_EVENT_RANK = {"subscription_schedule.created": 0, READ_FROM_API: 1}


def _next_phase(obj: dict[str, Any]) -> tuple[str, datetime | None]:
    """The plan price and start of the schedule's next phase ('' and None when none is left):
    the first phase that starts once the current one ends (the first, before it starts)."""
    phases = [phase for phase in obj.get("phases") or [] if isinstance(phase, dict)]
    phases.sort(key=lambda phase: int(phase.get("start_date") or 0))
    current = obj.get("current_phase") or {}
    if current.get("end_date") is not None:
        phases = [p for p in phases if int(p.get("start_date") or 0) >= current["end_date"]]
    if not phases:
        return "", None
    item, _ = _plan_item({"items": {"data": phases[0].get("items") or []}})
    return object_id(item.get("price")), to_datetime(phases[0].get("start_date"))


def _schedule_state_is_older(row: SubscriptionSchedule, at: datetime, source: str) -> bool:
    if row.last_event_at is None:
        return False
    if at != row.last_event_at:
        return at < row.last_event_at
    rank = SCHEDULE_EVENT_RANK.get(source, 2)
    return rank < SCHEDULE_EVENT_RANK.get(row.last_event_type, 2)


def apply_schedule(obj: dict[str, Any], *, at: datetime, source: str) -> Outcome:
    """Create or update the SubscriptionSchedule row from a Stripe schedule, unless a newer
    state was applied already; a schedule that ended (released, canceled, completed) never
    opens again, whatever order its events come in."""
    schedule_id = object_id(obj.get("id"))
    if not schedule_id.startswith("sub_sched_"):
        raise ValueError(f"The {source} carries no subscription schedule id.")
    status = str(obj.get("status") or "")[:20]
    price_id, next_at = _next_phase(obj) if status in OPEN_SCHEDULE_STATUSES else ("", None)
    fields = {
        "stripe_subscription_id": object_id(
            obj.get("subscription") or obj.get("released_subscription")
        ),
        "status": status,
        "next_price_id": price_id,
        "next_phase_at": next_at,
        "last_event_at": at,
        "last_event_type": source,
    }
    row, created = SubscriptionSchedule.objects.select_for_update().get_or_create(
        stripe_schedule_id=schedule_id, defaults=fields
    )
    if created:
        return Outcome(detail=f"Recorded schedule {schedule_id} ({status}).")
    if row.status not in OPEN_SCHEDULE_STATUSES and status in OPEN_SCHEDULE_STATUSES:
        return Outcome(detail=f"Skipped: schedule {schedule_id} is already {row.status}.")
    closes = status not in OPEN_SCHEDULE_STATUSES and row.status in OPEN_SCHEDULE_STATUSES
    if not closes and _schedule_state_is_older(row, at, source):
        return Outcome(detail="Skipped: a newer schedule state was already applied.")
    if not fields["stripe_subscription_id"]:
        fields.pop("stripe_subscription_id")
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return Outcome(detail=f"Updated schedule {schedule_id} ({status}).")


def handle_schedule_event(event: dict[str, Any]) -> Outcome:
    created = to_datetime(event["created"])
    assert created is not None  # the intake fills in `created`
    return apply_schedule(event["data"]["object"], at=created, source=event["type"])


# --- invoices ---------------------------------------------------------------------------------


def _recipient(obj: dict[str, Any], *, email: str = "") -> str | None:
    """Who is emailed about an invoice or subscription: `email` (the invoice's, from Stripe),
    else the customer's user (a team's first owner for a team's customer). None when the
    customer was unlinked (Stripe deleted it); defers while the customer is not linked yet."""
    customer_id = object_id(obj.get("customer"))
    customer = (
        StripeCustomer.objects.select_related("user").filter(stripe_customer_id=customer_id).first()
        if customer_id
        else None
    )
    if customer is not None and customer.team_id is not None and customer.unlinked_at is None:
        owner = customer.team.memberships.filter(role="owner").select_related("user").first()
        return email or (str(owner.user.email) if owner is not None else None)
    if customer is not None and customer.user is None:
        return None
    if email:
        return email
    if customer is None:
        raise DeferEventError(f"Stripe customer {customer_id or '?'} is not linked to a user yet.")
    return str(customer.user.email)


def handle_invoice_paid(event: dict[str, Any]) -> Outcome:
    """A paid period invoice starts its subscription's period, once per invoice, whichever of
    invoice.paid and invoice.payment_succeeded arrives first (an invoice paid out of band
    sends invoice.paid only). An older invoice arriving late changes nothing."""
    invoice = event["data"]["object"]
    invoice_id = object_id(invoice.get("id"))
    subscription_id = invoice_subscription_id(invoice)
    if not subscription_id or invoice.get("billing_reason") not in PERIOD_INVOICE_REASONS:
        return Outcome(detail=f"Invoice {invoice_id or '?'} paid (no period starts).")
    row = (
        Subscription.objects.select_for_update()
        .filter(stripe_subscription_id=subscription_id)
        .first()
    )
    if row is None:
        return Outcome(detail=f"Invoice {invoice_id} paid for {subscription_id}, not known here.")
    created = to_datetime(invoice.get("created") or event["created"])
    if row.last_paid_invoice_id == invoice_id or (
        row.last_paid_invoice_at is not None
        and created is not None
        and created < row.last_paid_invoice_at
    ):
        return Outcome(detail=f"Invoice {invoice_id} was recorded already (or a newer one).")
    row.last_paid_invoice_id = invoice_id
    row.last_paid_invoice_at = created
    row.save(update_fields=["last_paid_invoice_id", "last_paid_invoice_at", "updated_at"])
    logger.info(
        "Subscription %s: invoice %s paid, a new billing period starts", subscription_id, invoice_id
    )
    return Outcome(detail=f"Invoice {invoice_id} paid: a new period of {subscription_id}.")


def _queue_invoice_email(
    event: dict[str, Any], *, kind: str, subject: str, template: str, link_name: str
) -> Outcome:
    """Email the invoice's customer once for this event, with the invoice's hosted page (where
    they pay or confirm) as `link_name`, or the billing page when the invoice has none."""
    invoice = event["data"]["object"]
    to = _recipient(invoice, email=invoice.get("customer_email") or "")
    if to is None:
        return Outcome(Status.IGNORED, "Its Stripe customer was deleted: nobody to email.")
    queue_email(
        event_id=event["id"],
        kind=kind,
        to=to,
        subject=subject,
        template=template,
        context=invoice_context(invoice, link_name=link_name),
    )
    return Outcome(detail=f"{BillingEmail.Kind(kind).label} email queued for {to}.")


def handle_payment_failed(event: dict[str, Any]) -> Outcome:
    return _queue_invoice_email(
        event,
        kind=BillingEmail.Kind.PAYMENT_FAILED,
        subject=f"Payment failed for your {settings.PROJECT_NAME} subscription",
        template="emails/payment_failed.txt",
        link_name="fix_url",
    )


def handle_payment_action_required(event: dict[str, Any]) -> Outcome:
    """A renewal needs the customer to authenticate (3D Secure): email the hosted invoice link,
    where they confirm the payment."""
    return _queue_invoice_email(
        event,
        kind=BillingEmail.Kind.PAYMENT_ACTION_REQUIRED,
        subject=f"Confirm your {settings.PROJECT_NAME} payment",
        template="emails/payment_action_required.txt",
        link_name="confirm_url",
    )


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": handle_checkout_completed,
    "customer.deleted": handle_customer_deleted,
    "customer.subscription.created": handle_subscription_event,
    "customer.subscription.updated": handle_subscription_event,
    "customer.subscription.deleted": handle_subscription_event,
    "customer.subscription.trial_will_end": handle_trial_will_end,
    "invoice.paid": handle_invoice_paid,
    "invoice.payment_succeeded": handle_invoice_paid,
    "invoice.payment_failed": handle_payment_failed,
    "invoice.payment_action_required": handle_payment_action_required,
    **{
        f"subscription_schedule.{change}": handle_schedule_event
        for change in ("created", "updated", "released", "canceled", "completed", "aborted")
    },
}
