"""Usage counting and limits (advanced mode).

Usage is counted per subscription, metric and usage period in `UsageCounter` rows. A request
costs the same however much was recorded before: one conditional UPDATE
(`count = count + q WHERE count + q <= limit`), never a COUNT or SUM over `UsageRecord`, and
never a read-modify-write of a JSON dict. Concurrent requests therefore cannot exceed a limit.

A usage period starts when the subscription starts and moves forward when a renewal invoice is
paid (`invoice.paid` or `invoice.payment_succeeded`, see `webhook_handlers`): the new period's
counters start at zero. Limits come from the subscription's `SubscriptionMetadata.usage_limits`
(copied from its plan): a metric that is not listed is not included (limit 0), `null` means
unlimited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from djstripe.models import Subscription as StripeSubscription

from .fast_sql import increment_counter
from .models import SubscriptionMetadata, UsageCounter, UsageRecord
from .selectors import get_active_subscription, plan_of
from .services import ensure_metadata

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

logger = logging.getLogger(__name__)

#: The usage periods `usage_limit(period=...)` understands.
PERIODS = ("month",)


class UsageError(ValueError):
    """A usage call with arguments that can never be valid (bad metric or quantity)."""


@dataclass(frozen=True)
class UsageSummary:
    """What `{% get_usage user 'api_calls' as api_usage %}` gives a template."""

    metric: str
    current: int
    limit: int | None  # None: unlimited

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.current, 0)

    @property
    def percentage(self) -> int:
        """Share of the limit used, 0-100 (a progress bar width)."""
        if self.limit is None:
            return 0
        if self.limit <= 0:
            return 100
        return min(100, self.current * 100 // self.limit)

    @property
    def is_near_limit(self) -> bool:
        return self.limit is not None and self.percentage >= settings.BILLING_USAGE_WARNING_PERCENT

    @property
    def is_over_limit(self) -> bool:
        """True once the limit is reached: the next use would be refused."""
        return self.limit is not None and self.current >= self.limit


@dataclass(frozen=True)
class Consumption:
    """The outcome of trying to use `quantity` of a metric."""

    allowed: bool
    subscription_id: str
    metric: str
    quantity: int
    period_start: datetime
    current: int
    limit: int | None
    #: The use's audit row when `reserve` wrote it with the counter (PostgreSQL).
    record_id: int | None = None

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.current, 0)


def _check_metric(metric: str) -> None:
    if not isinstance(metric, str) or not metric or len(metric) > 100:
        raise UsageError("metric must be a non-empty string of at most 100 characters")


def _check_quantity(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise UsageError(f"quantity must be a positive integer, got {quantity!r}")


def _limit_value(raw: Any, *, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return int(raw)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        logger.warning("Ignoring the non-numeric usage limit %r in %s", raw, where)
        return 0
    return max(value, 0)


def forget_metadata(subscription: StripeSubscription) -> None:
    """Drop the cached metadata so the next read sees the database."""
    subscription._state.fields_cache.pop("billing_metadata", None)


def limit_for(subscription: StripeSubscription | None, metric: str) -> int | None:
    """The subscription's limit of `metric` per period (None: unlimited; 0: not included)."""
    if subscription is None:
        return 0
    limits = ensure_metadata(subscription).usage_limits or {}
    if metric not in limits:
        return 0
    return _limit_value(limits[metric], where=f"{subscription.id} usage_limits")


def period_start_of(subscription: StripeSubscription) -> datetime:
    return ensure_metadata(subscription).usage_period_start


def current_usage(subscription: StripeSubscription | None, metric: str) -> int:
    """Usage of `metric` in the subscription's current period (one indexed lookup)."""
    if subscription is None:
        return 0
    value = (
        UsageCounter.objects.filter(
            subscription_id=subscription.id,
            metric=metric,
            period_start=period_start_of(subscription),
        )
        .values_list("count", flat=True)
        .first()
    )
    return int(value or 0)


def check_usage_limit(
    subscription: StripeSubscription | None, metric: str, limit: int | None = None
) -> tuple[bool, int | None]:
    """(can_use, remaining) for one more use of `metric`; remaining is None when unlimited.

    A read, not a reservation: two requests may both see room for the last use. Gate views
    with `@usage_limit`, which reserves atomically, where the limit must hold exactly.
    """
    _check_metric(metric)
    if subscription is None:
        return False, 0
    if limit is None:
        limit = limit_for(subscription, metric)
    if limit is None:
        return True, None
    remaining = max(limit - current_usage(subscription, metric), 0)
    return remaining > 0, remaining


def _counter_key(subscription: StripeSubscription, metric: str) -> dict[str, Any]:
    return {
        "subscription_id": subscription.id,
        "metric": metric,
        "period_start": period_start_of(subscription),
    }


def consume(
    *,
    subscription: StripeSubscription,
    metric: str,
    quantity: int = 1,
    limit: int | None,
) -> Consumption:
    """Add `quantity` to the counter if that stays within `limit` (None: always), atomically."""
    return _consume(subscription, metric, quantity, limit, record=False)


def reserve(
    *,
    subscription: StripeSubscription,
    metric: str,
    quantity: int = 1,
    limit: int | None,
) -> Consumption:
    """`consume` for a use that will be recorded (`commit`) or given back (`release`).

    On PostgreSQL the same statement also writes the use's audit row, so `usage_limit` costs
    one statement per request besides finding the subscription; elsewhere `commit` inserts it.
    """
    record = connection.vendor == "postgresql"
    return _consume(subscription, metric, quantity, limit, record=record)


def _consume(
    subscription: StripeSubscription,
    metric: str,
    quantity: int,
    limit: int | None,
    *,
    record: bool,
) -> Consumption:
    _check_metric(metric)
    _check_quantity(quantity)
    key = _counter_key(subscription, metric)
    result = increment_counter(key, quantity=quantity, limit=limit, record=record)
    if result is None and not UsageCounter.objects.filter(**key).exists():
        # First use in this period: create the counter (get_or_create finds the one a
        # concurrent request just created instead), then try again.
        UsageCounter.objects.get_or_create(**key)
        result = increment_counter(key, quantity=quantity, limit=limit, record=record)
    if result is None:  # over the limit: read the count only to report it
        count = UsageCounter.objects.filter(**key).values_list("count", flat=True).first()
        current, record_id = int(count or 0), None
    else:
        current, record_id = result
    return Consumption(
        allowed=result is not None,
        subscription_id=subscription.id,
        metric=metric,
        quantity=quantity,
        period_start=key["period_start"],
        current=current,
        limit=limit,
        record_id=record_id,
    )


def release(consumption: Consumption) -> None:
    """Give back a consumption whose work did not happen (the view failed)."""
    if not consumption.allowed:
        return
    UsageCounter.objects.filter(
        subscription_id=consumption.subscription_id,
        metric=consumption.metric,
        period_start=consumption.period_start,
        count__gte=consumption.quantity,
    ).update(count=F("count") - consumption.quantity, updated_at=timezone.now())
    if consumption.record_id is not None:
        UsageRecord.objects.filter(pk=consumption.record_id).delete()


def _metering(subscription: StripeSubscription, metric: str) -> dict[str, str]:
    """The outbox fields of a use: set on metered plans' metric only (see metering)."""
    plan = plan_of(subscription)
    if plan is None or not plan.is_metered or plan.metered_metric != metric:
        return {"meter_event_name": "", "stripe_customer_id": ""}
    return {
        "meter_event_name": plan.meter_event_name,
        "stripe_customer_id": str(subscription.customer_id),
    }


def _record(*, subscription: StripeSubscription, metric: str, quantity: int) -> UsageRecord:
    """The audit row of a use; for metered plans also the outbox row of its meter event."""
    return UsageRecord.objects.create(
        subscription_id=subscription.id,
        metric=metric,
        quantity=quantity,
        **_metering(subscription, metric),
    )


def record_usage(subscription: StripeSubscription, metric: str, quantity: int = 1) -> UsageRecord:
    """Record usage: the period's counter goes up and, on metered plans, the use is queued for
    the plan's Stripe Billing Meter (sent by `manage.py billing_flush_outbox`, never inline)."""
    _check_metric(metric)
    _check_quantity(quantity)
    if subscription is None:
        raise UsageError("record_usage needs a subscription")
    with transaction.atomic():
        consume(subscription=subscription, metric=metric, quantity=quantity, limit=None)
        return _record(subscription=subscription, metric=metric, quantity=quantity)


def commit(consumption: Consumption, *, subscription: StripeSubscription) -> None:
    """Record a use reserved by `reserve` or `consume` (its counter is already up): insert its
    audit row, or, if `reserve` wrote it, make it reportable on metered plans."""
    if consumption.record_id is None:
        _record(subscription=subscription, metric=consumption.metric, quantity=consumption.quantity)
        return
    metering = _metering(subscription, consumption.metric)
    if metering["meter_event_name"]:
        UsageRecord.objects.filter(pk=consumption.record_id).update(**metering)


def get_usage(user: AbstractBaseUser | AnonymousUser, metric: str) -> UsageSummary:
    subscription = get_active_subscription(user)
    return UsageSummary(
        metric=metric,
        current=current_usage(subscription, metric),
        limit=limit_for(subscription, metric),
    )


def start_new_period(*, subscription: StripeSubscription, starts_at: datetime) -> bool:
    """Move the usage period forward to `starts_at` (never back). True if it moved."""
    metadata = ensure_metadata(subscription)
    moved = SubscriptionMetadata.objects.filter(
        pk=metadata.pk, usage_period_start__lt=starts_at
    ).update(usage_period_start=starts_at, updated_at=timezone.now())
    forget_metadata(subscription)
    return bool(moved)
