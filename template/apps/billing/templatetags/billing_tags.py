"""Template helpers: {% load billing_tags %}."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from apps.billing.money import format_money, format_price

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

    Reads a Stripe price object, a dj-stripe Price or a configured plan's price alike; a
    metered price reads as a per-unit price.
    """
    if stripe_price is None:
        return ""
    get = stripe_price.get if isinstance(stripe_price, dict) else _attribute_of(stripe_price)
    recurring = get("recurring") or {}
    interval = get("interval") or recurring.get("interval")
    amount = get("unit_amount")
    if amount is None:
        amount = get("unit_amount_decimal")
    try:
        return format_price(
            amount,
            str(get("currency") or ""),
            interval,
            recurring.get("interval_count") or get("interval_count") or 1,
            per_unit=recurring.get("usage_type") == "metered",
        )
    except (InvalidOperation, TypeError, ValueError):
        return ""


def _attribute_of(obj: Any) -> Any:
    return lambda name: getattr(obj, name, None)


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
