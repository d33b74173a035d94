"""Template helpers: {% load billing_tags %}."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.conf import settings

from apps.billing import plan_changes
from apps.billing.money import describe_price, format_day, format_money
from apps.billing.overview import PlanCard, metric_label, plan_cards, status_words
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
    return describe_price(stripe_price, settings.BILLING_CURRENCY)


@register.filter
def day(value: Any) -> str:
    """{{ subscription|renews_at|day }} → 'December 2, 2026' ('' for no date): the project's
    DATE_FORMAT (config/formats), the format of every date the project shows."""
    return format_day(value)


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


@register.simple_tag(takes_context=True)
def pricing_cards(context: template.Context, plans: Any = None) -> list[PlanCard]:
    """{% pricing_cards plans as cards %}: the plans as the visitor should see them (their
    plan marked, the right button on each); `plans` may be models or plain dicts."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None:
        from django.contrib.auth.models import AnonymousUser

        user = AnonymousUser()
    return plan_cards(user, plans)


@register.filter
def status_text(subscription: Any) -> str:
    """The subscription's status in words: 'Active', 'Trial ends on …', 'Cancels on …'."""
    return status_words(subscription)


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
    return metric_label(str(value))


@register.simple_tag
def plan_actions(subscription: Any) -> plan_changes.PlanActions:
    """{% plan_actions subscription as actions %}: change, cancel, resume, and the plan change
    scheduled for the period end (read from the database, no Stripe call)."""
    return plan_changes.plan_actions(subscription)
