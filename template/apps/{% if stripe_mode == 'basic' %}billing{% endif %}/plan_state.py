"""The state plan changes read and write (basic mode): the project's own models.

The same names as in advanced mode, for the shared `plan_changes`: the plans on offer, the
user's subscription, its scheduled change, and recording what Stripe answered through the
webhook handlers' own code (ordered with the webhooks, whichever comes first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import stripe
from django.db import transaction
from django.utils import timezone

from .models import CHANGED_IN_APP, OPEN_SCHEDULE_STATUSES, Subscription, SubscriptionSchedule
from .plan_types import PlanOption, ScheduledChange
from .plans import get_plan_by_price_id, get_plans
from .selectors import get_active_subscription
from .webhook_handlers import apply_schedule, apply_subscription

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


def plan_options() -> list[PlanOption]:
    """The purchasable plans (BILLING_PLANS with a price id)."""
    return [
        PlanOption(
            slug=plan.slug,
            name=plan.name,
            price_id=plan.price_id,
            amount=plan.amount,
            currency=plan.currency.lower(),
            interval=plan.interval,
        )
        for plan in get_plans()
        if plan.price_id
    ]


def subscription_of(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The subscription whose plan the user can change: the one that grants access."""
    return get_active_subscription(user)


def stripe_id(subscription: Subscription) -> str:
    return subscription.stripe_subscription_id


def scheduled_change(subscription: Subscription) -> ScheduledChange | None:
    """The plan change a schedule makes at the end of the current period, if any.

    Once the new phase has started, the subscription's period (from its webhook) begins at or
    after the phase's start: nothing is waiting any more, whatever the schedule's own events
    say and whenever they arrive.
    """
    schedule = (
        SubscriptionSchedule.objects.filter(
            stripe_subscription_id=subscription.stripe_subscription_id,
            status__in=OPEN_SCHEDULE_STATUSES,
            next_phase_at__isnull=False,
        )
        .exclude(next_price_id="")
        .order_by("-last_event_at", "-pk")
        .first()
    )
    if schedule is None or schedule.next_price_id == subscription.price_id:
        return None
    starts = subscription.current_period_start
    if starts is not None and schedule.next_phase_at <= starts:
        return None
    plan = get_plan_by_price_id(schedule.next_price_id)
    return ScheduledChange(
        schedule_id=schedule.stripe_schedule_id,
        price_id=schedule.next_price_id,
        plan_name=plan.name if plan else schedule.next_price_id,
        at=schedule.next_phase_at,
    )


def _now() -> Any:
    return timezone.now().replace(microsecond=0)


def record_subscription(obj: stripe.Subscription) -> None:
    """Apply a subscription Stripe just returned, as the webhook will."""
    with transaction.atomic():
        apply_subscription(obj.to_dict(), at=_now(), source=CHANGED_IN_APP)


def record_schedule(obj: stripe.SubscriptionSchedule) -> None:
    """Apply a subscription schedule Stripe just returned, as its webhook will."""
    with transaction.atomic():
        apply_schedule(obj.to_dict(), at=_now(), source=CHANGED_IN_APP)
