"""Template helpers: {% load billing_tags %}."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.conf import settings
from django.utils.dateformat import format as format_date

from apps.billing import plan_changes
from apps.billing.money import format_money, format_price, minor_unit_exponent
from apps.billing.selectors import cancels_at as _cancels_at
from apps.billing.selectors import renews_at as _renews_at

register = template.Library()


@register.filter
def money(amount: Any, currency: Any) -> str:
    """{{ invoice.amount_due|money:invoice.currency }} → '$29.00', '¥2,900' (minor units in)."""
    try:
        return format_money(amount, str(currency or ""))
    except (InvalidOperation, TypeError, ValueError):
        return ""


@register.filter
def price(stripe_price: Any) -> str:
    """{{ plan.stripe_price|price }} → '$29.00/month': amount, currency and interval of a price.

    Reads a Stripe price object, a dj-stripe Price, a configured plan's price or a plan dict
    with `price` in major units alike; a metered price reads as a per-unit price.
    """
    if stripe_price is None:
        return ""
    get = stripe_price.get if isinstance(stripe_price, dict) else _attribute_of(stripe_price)
    recurring = get("recurring") or {}
    interval = get("interval") or recurring.get("interval")
    amount = get("unit_amount")
    if amount is None:
        amount = get("unit_amount_decimal")
    currency = str(get("currency") or "")
    if amount is None and get("price") is not None:
        # A plan written as {"name": "Pro", "price": 29, ...}: major units, monthly by default.
        currency = currency or settings.BILLING_CURRENCY
        amount = Decimal(str(get("price"))).scaleb(minor_unit_exponent(currency))
        interval = interval or "month"
    try:
        return format_price(
            amount,
            currency,
            interval,
            recurring.get("interval_count") or get("interval_count") or 1,
            per_unit=recurring.get("usage_type") == "metered",
        )
    except (InvalidOperation, TypeError, ValueError):
        return ""


def _attribute_of(obj: Any) -> Any:
    return lambda name: getattr(obj, name, None)


#: The one date format of billing pages and emails: "December 2, 2026".
DAY_FORMAT = "F j, Y"


@register.filter
def day(value: Any) -> str:
    """{{ subscription|renews_at|day }} → 'December 2, 2026' ('' for no date)."""
    if not value or not hasattr(value, "year"):
        return ""
    return format_date(value, DAY_FORMAT)


@register.filter
def cancels_at(subscription: Any) -> Any:
    """When a subscription set to cancel ends (portal `cancel_at` or period end), else None."""
    return _cancels_at(subscription) if subscription else None


@register.filter
def renews_at(subscription: Any) -> Any:
    """When a subscription that renews is next billed, else None."""
    return _renews_at(subscription) if subscription else None


@register.filter
def period_end(subscription: Any) -> Any:
    """The end of the subscription's current (or last) period, for history lists."""
    if not subscription:
        return None
    return _cancels_at(subscription) or _renews_at(subscription) or subscription.ended_at


STATUS_WORDS = {
    "active": "Active",
    "trialing": "Trial",
    "past_due": "Past due — update your payment method",
    "unpaid": "Unpaid — update your payment method",
    "incomplete": "Incomplete — the first payment is not complete",
    "incomplete_expired": "Expired — the first payment never completed",
    "paused": "Paused",
    "canceled": "Canceled",
}


@register.filter
def status_text(subscription: Any) -> str:
    """The subscription's status in words: 'Active', 'Trial ends on …', 'Cancels on …'."""
    if not subscription:
        return ""
    status = str(subscription.status)
    ends = _cancels_at(subscription) if status in ("active", "trialing") else None
    if ends:
        return f"Cancels on {day(ends)}"
    if status == "trialing" and subscription.trial_end:
        return f"Trial ends on {day(subscription.trial_end)}"
    return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


@register.filter
def divide(value: Any, divisor: Any) -> Decimal | str:
    """{{ 2900|divide:100 }} → 29; amounts stay exact (Decimal). Bad input renders empty."""
    try:
        result = Decimal(str(value)) / Decimal(str(divisor))
    except (InvalidOperation, ZeroDivisionError, TypeError, ValueError):
        return ""
    return result.quantize(Decimal(1)) if result == result.to_integral() else result


@register.filter
def label(value: Any) -> str:
    """{{ 'api_calls'|label }} → 'API calls': a setting key as people read it."""
    words = str(value).replace("_", " ").replace("-", " ").split()
    if not words:
        return ""
    acronyms = {"api", "gb", "sso", "url", "sla"}
    out = [w.upper() if w.lower() in acronyms else w.lower() for w in words]
    out[0] = out[0] if out[0].isupper() else out[0].capitalize()
    return " ".join(out)


@register.simple_tag
def plan_actions(subscription: Any) -> plan_changes.PlanActions:
    """{% plan_actions subscription as actions %}: change, cancel, resume, and the plan change
    scheduled for the period end (read from the database, no Stripe call)."""
    return plan_changes.plan_actions(subscription)
