"""The state plan changes read and write (advanced mode): dj-stripe's models.

The same names as in basic mode, for the shared `plan_changes`. Subscriptions and schedules
are dj-stripe's rows, synced by its webhook processing and, right after a change made here,
from Stripe's answer (the same sync). What dj-stripe 2.11 reads from the subscription itself,
the billing period, is read from the items (`models.subscription_period`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import stripe
from django.db import transaction
from djstripe.models import SubscriptionSchedule

from .models import PlanConfiguration, Subscription, subscription_period
from .plan_types import PlanOption, ScheduledChange
from .selectors import get_active_subscription, get_plan_by_price_id, get_plans, plan_of
from .services import apply_subscription
from .stripe_api import request_options

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

__all__ = [
    "plan_options",
    "record_schedule",
    "record_subscription",
    "scheduled_change",
    "stripe_id",
    "subscription_of",
]

#: Statuses of a subscription schedule that may still change its subscription.
OPEN_SCHEDULE_STATUSES = ("not_started", "active")


def _option(plan: PlanConfiguration) -> PlanOption:
    price = plan.stripe_price
    recurring = price.recurring or {}
    return PlanOption(
        slug=plan.slug,
        name=plan.name,
        price_id=plan.price_id,
        amount=int(price.unit_amount or 0),
        currency=str(price.currency or "").lower(),
        interval=str(recurring.get("interval") or "month"),
        interval_count=int(recurring.get("interval_count") or 1),
    )


def plan_options() -> list[PlanOption]:
    """The plans a subscription can move to in the app: those without metered usage (a
    metered plan has a second item, and is changed in the billing portal)."""
    return [_option(plan) for plan in get_plans() if not plan.is_metered]


def subscription_of(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The subscription whose plan the user can change: the one that grants access."""
    return get_active_subscription(user)


def stripe_id(subscription: Subscription) -> str:
    return str(subscription.id)


def _next_phase(schedule: SubscriptionSchedule) -> tuple[str, int | None]:
    """The plan price and start of the schedule's next phase (the first that starts once the
    current one ends; the first, before it starts)."""
    phases = [phase for phase in schedule.phases or [] if isinstance(phase, dict)]
    phases.sort(key=lambda phase: int(phase.get("start_date") or 0))
    current = schedule.current_phase or {}
    if current.get("end_date") is not None:
        phases = [p for p in phases if int(p.get("start_date") or 0) >= current["end_date"]]
    if not phases:
        return "", None
    prices = []
    for item in phases[0].get("items") or []:
        price = item.get("price") if isinstance(item, dict) else None
        prices.append(str(price.get("id") if isinstance(price, dict) else price or ""))
    plan_price = next((p for p in prices if get_plan_by_price_id(p) is not None), "")
    return plan_price or (prices[0] if prices else ""), phases[0].get("start_date")


def scheduled_change(subscription: Subscription) -> ScheduledChange | None:
    """The plan change a schedule makes at the end of the current period, if any.

    Once the new phase has started, the subscription's period begins at or after its start:
    nothing is waiting any more, whenever the schedule's own events arrive.
    """
    schedule = (
        SubscriptionSchedule.objects.filter(
            subscription__id=subscription.id, status__in=OPEN_SCHEDULE_STATUSES
        )
        .order_by("-created")
        .first()
    )
    if schedule is None:
        return None
    price_id, starts_at = _next_phase(schedule)
    plan = plan_of(subscription)
    if not price_id or starts_at is None or (plan is not None and plan.price_id == price_id):
        return None
    at = datetime.fromtimestamp(int(starts_at), tz=UTC)
    period_start = subscription_period(subscription, "current_period_start")
    if period_start is not None and at is not None and at <= period_start:
        return None
    new_plan = get_plan_by_price_id(price_id)
    return ScheduledChange(
        schedule_id=str(schedule.id),
        price_id=price_id,
        plan_name=new_plan.name if new_plan else price_id,
        at=at,
    )


def record_subscription(obj: stripe.Subscription) -> None:
    """Sync a subscription Stripe just returned, as its webhook will."""
    apply_subscription(obj, api_key=request_options()["api_key"])


def record_schedule(obj: stripe.SubscriptionSchedule) -> None:
    """Sync a subscription schedule Stripe just returned, as its webhook will."""
    with transaction.atomic():
        SubscriptionSchedule.sync_from_stripe_data(obj, api_key=request_options()["api_key"])
