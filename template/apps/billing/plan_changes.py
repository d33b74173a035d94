"""Plan changes in the app, the same in both billing modes: change plan with an exact preview,
cancel at period end and resume.

- A quote (`quote_plan_changes`) prices every other plan with Stripe's invoice preview
  (`Invoice.create_preview` with the subscription's new items and a proration date): the
  amount due now (the preview of the invoice `always_invoice` creates) and the next renewal.
  Each quote carries a signed token with that proration date and amount; `apply_plan_change`
  refuses a token that was altered, is older than QUOTE_MAX_AGE, or no longer matches the
  subscription, then applies the change with the same proration date, so the customer is
  charged exactly what the page showed.
- A change to a plan that costs more applies at once and invoices the proration now
  (`always_invoice`); `error_if_incomplete` makes a declined card leave the plan unchanged.
- A change to a plan that costs less waits for the end of the period: a subscription
  schedule from the subscription, whose second phase is the new plan, released afterwards
  (the subscription then simply continues). `cancel_scheduled_change` releases it sooner.
- `cancel_at_period_end` and `resume_subscription` set and undo a cancellation, also one
  the portal made by `cancel_at` (flexible billing mode).

Stripe is the source of truth: everything is read from it before it is changed, and each
answer is recorded locally at once (`plan_state.record_*`, the webhook's own code), so the
billing page shows the change before its webhooks arrive. What each mode stores is in its
`plan_state` module.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import stripe
from django.core import signing

from . import plan_state
from .plan_types import PlanOption, ScheduledChange
from .selectors import cancels_at
from .stripe_api import request_options
from .stripe_objects import object_id

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

__all__ = [
    "QUOTE_MAX_AGE",
    "ChangeResult",
    "NotSubscribedError",
    "PaymentDeclinedError",
    "PlanChangeError",
    "Quote",
    "QuoteRefusedError",
    "apply_plan_change",
    "cancel_at_period_end",
    "cancel_scheduled_change",
    "plan_actions",
    "quote_plan_changes",
    "resume_subscription",
]

logger = logging.getLogger(__name__)

#: Seconds a quote stays valid: long enough to read the page, short enough that its proration
#: date is still today's.
QUOTE_MAX_AGE = 15 * 60
_SALT = "apps.billing.plan_changes.quote"
#: Statuses whose plan can change in the app; past_due and unpaid pay first (the portal).
CHANGEABLE_STATUSES = ("active", "trialing")


class PlanChangeError(Exception):
    """A change the app refuses, with a message for the person who asked."""


class NotSubscribedError(PlanChangeError):
    """The user has no subscription whose plan can change."""


class QuoteRefusedError(PlanChangeError):
    """The quote was altered, is too old, or no longer matches the subscription."""


class PaymentDeclinedError(PlanChangeError):
    """The card was declined: Stripe left the subscription as it was."""


@dataclass(frozen=True)
class Quote:
    """Another plan, priced for this subscription now. Amounts in minor units."""

    plan: PlanOption
    upgrade: bool  # applies now and invoices the proration; else waits for the period end
    due_now: int
    renewal: int
    currency: str
    proration_date: int
    applies_at: datetime | None  # None: at once
    token: str


@dataclass(frozen=True)
class ChangeResult:
    plan_name: str
    upgrade: bool
    charged: int | None  # what the proration invoice charged (upgrades)
    currency: str
    applies_at: datetime | None


# --- reading the subscription at Stripe -------------------------------------------------------


def _to_datetime(timestamp: Any) -> datetime | None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _local_subscription(user: AbstractBaseUser | AnonymousUser) -> Any:
    subscription = plan_state.subscription_of(user)
    if subscription is None:
        raise NotSubscribedError(
            "You have no active subscription to change: choose a plan on the pricing page."
        )
    return subscription


def _remote(subscription_id: str, options: dict[str, Any]) -> dict[str, Any]:
    return stripe.Subscription.retrieve(subscription_id, **options).to_dict()


def _plan_item(remote: dict[str, Any]) -> dict[str, Any]:
    """The subscription's item (`_check_changeable` allows one)."""
    return dict(((remote.get("items") or {}).get("data") or [{}])[0])


def _current_option(item: dict[str, Any]) -> PlanOption:
    price = item.get("price") or {}
    recurring = price.get("recurring") or {}
    known = {o.price_id: o for o in plan_state.plan_options()}.get(object_id(price))
    return known or PlanOption(
        slug="",
        name=str(price.get("nickname") or object_id(price)),
        price_id=object_id(price),
        amount=int(price.get("unit_amount") or 0),
        currency=str(price.get("currency") or ""),
        interval=str(recurring.get("interval") or "month"),
        interval_count=int(recurring.get("interval_count") or 1),
    )


def _check_changeable(remote: dict[str, Any]) -> None:
    if remote.get("status") not in CHANGEABLE_STATUSES:
        raise PlanChangeError(
            "Your subscription has a payment due: update your payment method before changing plan."
        )
    if remote.get("cancel_at_period_end") or remote.get("cancel_at"):
        raise PlanChangeError("Your subscription is set to cancel: resume it to change plan.")
    if len((remote.get("items") or {}).get("data") or []) != 1:
        # A second item (metered usage, an add-on) would have to follow the plan, and usage
        # billed on a removed item can be lost: the portal changes such a subscription.
        raise PlanChangeError(
            "Your plan includes metered usage or add-ons: change it in the billing portal."
        )


def _check_unscheduled(remote: dict[str, Any]) -> None:
    """One change at a time: a schedule's next phase would undo a change made beside it."""
    if remote.get("schedule"):
        raise PlanChangeError(
            "A plan change is already scheduled: cancel it to choose another plan."
        )


def _in_trial(remote: dict[str, Any]) -> bool:
    """Stripe prorates nothing during a trial: a change then bills nothing now, and the new
    plan's first invoice comes when the trial ends."""
    return remote.get("status") == "trialing"


def _proration_date(item: dict[str, Any]) -> int:
    """Now, within the current period (Stripe refuses a date outside it; a clock a little
    off Stripe's must not make the change fail)."""
    start, end = item.get("current_period_start"), item.get("current_period_end")
    now = int(time.time())
    if isinstance(start, int) and isinstance(end, int) and start < end:
        return min(max(now, start), end - 1)
    return now


# --- previews ---------------------------------------------------------------------------------


def _is_proration(line: dict[str, Any]) -> bool:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or {}
    return bool(details.get("proration") or line.get("proration"))


def _preview(
    remote: dict[str, Any],
    item: dict[str, Any],
    price_id: str,
    *,
    proration_date: int,
    proration_behavior: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Stripe's preview of moving `item` to `price_id` at `proration_date`: with
    `always_invoice` the invoice an upgrade creates at once, else the next invoice."""
    return stripe.Invoice.create_preview(
        customer=object_id(remote.get("customer")),
        subscription=str(remote["id"]),
        subscription_details={
            "items": [{"id": item["id"], "price": price_id}],
            "proration_date": proration_date,
            "proration_behavior": proration_behavior,
        },
        **options,
    ).to_dict()


def _amounts(
    remote: dict[str, Any],
    item: dict[str, Any],
    price_id: str,
    *,
    proration_date: int,
    upgrade: bool,
    options: dict[str, Any],
) -> tuple[int, int, str]:
    """(due now, next renewal, their currency) of the change, from Stripe's invoice preview.

    Due now is the `amount_due` of the invoice an upgrade creates (`always_invoice`, which also
    takes in prorations still pending); a downgrade bills nothing now. The renewal is the next
    invoice with the new price: for an upgrade without the prorations it has just invoiced.
    """
    due_now = 0
    if upgrade:
        due_now = int(
            _preview(
                remote,
                item,
                price_id,
                proration_date=proration_date,
                proration_behavior="always_invoice",
                options=options,
            ).get("amount_due")
            or 0
        )
    upcoming = _preview(
        remote,
        item,
        price_id,
        proration_date=proration_date,
        proration_behavior="none",
        options=options,
    )
    currency = str(upcoming.get("currency") or "")
    if not upgrade:
        return due_now, int(upcoming.get("amount_due") or 0), currency
    lines = (upcoming.get("lines") or {}).get("data") or []
    renewal = sum(_net_amount(line) for line in lines if not _is_proration(line))
    return due_now, renewal, currency


def _net_amount(line: dict[str, Any]) -> int:
    """A preview line's amount less its share of the subscription's discounts (a 20% coupon
    makes a $99 renewal $79.20)."""
    discounts = line.get("discount_amounts") or []
    return int(line.get("amount") or 0) - sum(int(d.get("amount") or 0) for d in discounts)


def _sign(**payload: Any) -> str:
    return signing.dumps(payload, salt=_SALT, compress=True)


def quote_plan_changes(*, user: AbstractBaseUser | AnonymousUser) -> list[Quote]:
    """Every other plan, priced now by Stripe's preview (in the currency Stripe bills).

    Raises NotSubscribedError (no active subscription), PlanChangeError (payment due, set to
    cancel, or a change already scheduled), and Stripe's errors.
    """
    subscription = _local_subscription(user)
    options = request_options()
    remote = _remote(plan_state.stripe_id(subscription), options)
    _check_changeable(remote)
    _check_unscheduled(remote)
    item = _plan_item(remote)
    current = _current_option(item)
    quantity = int(item.get("quantity") or 1)
    proration_date = _proration_date(item)
    period_end = _to_datetime(item.get("current_period_end"))
    quotes = []
    for plan in plan_state.plan_options():
        if plan.price_id == current.price_id:
            continue
        upgrade = plan.daily_cost(quantity) >= current.daily_cost(quantity)
        try:
            due_now, renewal, currency = _amounts(
                remote,
                item,
                plan.price_id,
                proration_date=proration_date,
                upgrade=upgrade and not _in_trial(remote),
                options=options,
            )
        except stripe.InvalidRequestError as exc:
            # A plan Stripe will not put on this subscription (another currency or interval
            # mix): not offered, the others still are.
            logger.warning("Plan %s cannot replace %s: %s", plan.slug, remote["id"], exc)
            continue
        token = _sign(
            user=user.pk,
            subscription=remote["id"],
            current=current.price_id,
            price=plan.price_id,
            upgrade=upgrade,
            proration_date=proration_date,
            due_now=due_now,
            nonce=secrets.token_hex(8),
        )
        quotes.append(
            Quote(
                plan=plan,
                upgrade=upgrade,
                due_now=due_now,
                renewal=renewal,
                currency=currency,
                proration_date=proration_date,
                applies_at=None if upgrade else period_end,
                token=token,
            )
        )
    return quotes


# --- applying a quote -------------------------------------------------------------------------


def _read_quote(token: str, user: AbstractBaseUser | AnonymousUser) -> dict[str, Any]:
    try:
        quote = signing.loads(token, salt=_SALT, max_age=QUOTE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise QuoteRefusedError(
            "That price was quoted too long ago: check the new amounts and confirm again."
        ) from exc
    except signing.BadSignature as exc:
        raise QuoteRefusedError("That plan change could not be verified: try again.") from exc
    if not isinstance(quote, dict) or quote.get("user") != user.pk:
        raise QuoteRefusedError("That plan change could not be verified: try again.")
    return quote


def _stale() -> QuoteRefusedError:
    return QuoteRefusedError(
        "Your subscription or the prices changed since this quote: check the new amounts and "
        "confirm again."
    )


def apply_plan_change(*, user: AbstractBaseUser | AnonymousUser, token: str) -> ChangeResult:
    """Apply a quoted change: an upgrade now, charged exactly the quoted amount; a downgrade
    at the period end (a subscription schedule). Raises QuoteRefusedError for an altered, old
    or outdated quote, PaymentDeclinedError when the card is declined (nothing changed)."""
    quote = _read_quote(token, user)
    subscription = _local_subscription(user)
    options = request_options()
    remote = _remote(plan_state.stripe_id(subscription), options)
    _check_changeable(remote)
    item = _plan_item(remote)
    if remote["id"] != quote["subscription"] or object_id(item.get("price")) != quote["current"]:
        raise _stale()
    plan = next((p for p in plan_state.plan_options() if p.price_id == quote["price"]), None)
    if plan is None:
        raise _stale()
    _check_unscheduled(remote)
    if quote["upgrade"]:
        return _upgrade(remote, item, plan, quote, options)
    return _downgrade(remote, item, plan, quote, options)


def _upgrade(
    remote: dict[str, Any],
    item: dict[str, Any],
    plan: PlanOption,
    quote: dict[str, Any],
    options: dict[str, Any],
) -> ChangeResult:
    # Priced again with the quote's proration date: what is charged below is this amount, and
    # a quote that pending invoice items (or a new price) made wrong is refused, not charged.
    due_now = 0
    if not _in_trial(remote):
        preview = _preview(
            remote,
            item,
            plan.price_id,
            proration_date=quote["proration_date"],
            proration_behavior="always_invoice",
            options=options,
        )
        due_now = int(preview.get("amount_due") or 0)
    if due_now != quote["due_now"]:
        raise _stale()
    try:
        updated = stripe.Subscription.modify(
            remote["id"],
            items=[{"id": item["id"], "price": plan.price_id}],
            proration_behavior="always_invoice",
            proration_date=quote["proration_date"],
            payment_behavior="error_if_incomplete",
            # One change per quote: a double submit (or a retry after a lost answer) is
            # answered with the first change, never charged twice.
            idempotency_key=f"plan-change-{remote['id']}-{quote['nonce']}",
            **options,
        )
    except stripe.CardError as exc:
        raise PaymentDeclinedError(
            f"Your card was declined ({exc.user_message or 'no reason given'}): your plan was "
            "not changed. Update your payment method and try again."
        ) from exc
    plan_state.record_subscription(updated)
    charged, currency = None, plan.currency
    invoice_id = object_id(updated.to_dict().get("latest_invoice"))
    if invoice_id:
        invoice = stripe.Invoice.retrieve(invoice_id, **options).to_dict()
        if invoice.get("billing_reason") == "subscription_update":
            charged = int(invoice.get("amount_paid") or 0)
            currency = str(invoice.get("currency") or currency)
    return ChangeResult(plan.name, True, charged, currency, None)


def _downgrade(
    remote: dict[str, Any],
    item: dict[str, Any],
    plan: PlanOption,
    quote: dict[str, Any],
    options: dict[str, Any],
) -> ChangeResult:
    key = f"plan-change-{remote['id']}-{quote['nonce']}"
    schedule = stripe.SubscriptionSchedule.create(
        from_subscription=remote["id"], idempotency_key=f"{key}-schedule", **options
    ).to_dict()
    current_phase = (schedule.get("phases") or [{}])[0]
    try:
        changed = _add_next_phase(schedule["id"], current_phase, item, plan, key, options)
    except stripe.StripeError:
        # A schedule that changes nothing would still block every later change: let it go
        # (and report the first error, whatever the release meets).
        with contextlib.suppress(stripe.StripeError):
            stripe.SubscriptionSchedule.release(schedule["id"], **options)
        raise
    plan_state.record_schedule(changed)
    at = _to_datetime(current_phase.get("end_date")) or _to_datetime(item.get("current_period_end"))
    return ChangeResult(plan.name, False, None, plan.currency, at)


def _add_next_phase(
    schedule_id: str,
    current_phase: dict[str, Any],
    item: dict[str, Any],
    plan: PlanOption,
    key: str,
    options: dict[str, Any],
) -> stripe.SubscriptionSchedule:
    """The current phase as it is, then one period of the new plan (same quantity); released
    afterwards, so the subscription simply continues on the new plan."""
    quantity = int(item.get("quantity") or 1)
    return stripe.SubscriptionSchedule.modify(
        schedule_id,
        end_behavior="release",
        phases=[
            {
                "items": [
                    {"price": object_id(i.get("price")), "quantity": i.get("quantity") or 1}
                    for i in current_phase.get("items") or []
                ],
                "start_date": current_phase.get("start_date"),
                "end_date": current_phase.get("end_date"),
            },
            {
                "items": [{"price": plan.price_id, "quantity": quantity}],
                "duration": {"interval": plan.interval, "interval_count": plan.interval_count},
            },
        ],
        proration_behavior="none",
        idempotency_key=f"{key}-phases",
        **options,
    )


# --- the scheduled change, cancelling and resuming --------------------------------------------


def cancel_scheduled_change(*, user: AbstractBaseUser | AnonymousUser) -> None:
    """Release the subscription's schedule: it stays on its plan and renews as it is."""
    subscription = _local_subscription(user)
    options = request_options()
    remote = _remote(plan_state.stripe_id(subscription), options)
    _release_schedule(remote, options)


def _release_schedule(remote: dict[str, Any], options: dict[str, Any]) -> None:
    schedule_id = object_id(remote.get("schedule"))
    if not schedule_id:
        return
    plan_state.record_schedule(stripe.SubscriptionSchedule.release(schedule_id, **options))
    plan_state.record_subscription(stripe.Subscription.retrieve(remote["id"], **options))


def cancel_at_period_end(*, user: AbstractBaseUser | AnonymousUser) -> datetime | None:
    """Cancel at the end of the period (access until then); when that is. A scheduled plan
    change is released first: Stripe refuses a cancellation of a scheduled subscription, and
    a subscription that ends has no next plan."""
    subscription = _local_subscription(user)
    options = request_options()
    remote = _remote(plan_state.stripe_id(subscription), options)
    _release_schedule(remote, options)
    updated = stripe.Subscription.modify(remote["id"], cancel_at_period_end=True, **options)
    plan_state.record_subscription(updated)
    data = updated.to_dict()
    return _to_datetime(data.get("cancel_at")) or _to_datetime(
        _plan_item(data).get("current_period_end")
    )


def resume_subscription(*, user: AbstractBaseUser | AnonymousUser) -> None:
    """Undo a cancellation that has not happened yet: set by this app (`cancel_at_period_end`)
    or by the portal, which in flexible billing mode sets only `cancel_at`."""
    subscription = _local_subscription(user)
    options = request_options()
    remote = _remote(plan_state.stripe_id(subscription), options)
    if remote.get("cancel_at_period_end"):
        updated = stripe.Subscription.modify(remote["id"], cancel_at_period_end=False, **options)
    elif remote.get("cancel_at"):
        updated = stripe.Subscription.modify(remote["id"], cancel_at="", **options)
    else:
        return
    plan_state.record_subscription(updated)


# --- what the billing page offers -------------------------------------------------------------


@dataclass(frozen=True)
class PlanActions:
    """What the billing page offers for a subscription (read locally, no Stripe call)."""

    can_change: bool
    can_cancel: bool
    can_resume: bool
    scheduled: ScheduledChange | None


def plan_actions(subscription: Any) -> PlanActions:
    if subscription is None or subscription.status not in CHANGEABLE_STATUSES:
        return PlanActions(False, False, False, None)
    canceling = cancels_at(subscription) is not None
    scheduled = None if canceling else plan_state.scheduled_change(subscription)
    return PlanActions(
        can_change=not canceling and scheduled is None,
        can_cancel=not canceling,
        can_resume=canceling,
        scheduled=scheduled,
    )
