"""What the usage page shows (advanced mode): each metric of the current plan, as text.

A metric is on the page when the plan limits it or bills it by use (its metered metric).
Seat limits (`team_members`) count members of a team, not uses in a period: the team pages
show them, and this page lists them as plain limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib.humanize.templatetags.humanize import intcomma

from apps.billing.money import format_day, format_money
from apps.billing.overview import STANDING_LIMITS, limit_lines, metric_label

from . import usage
from .selectors import get_active_subscription, plan_of, renews_at
from .services import ensure_metadata

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class UsageRow:
    metric: str
    label: str
    used: str
    #: '10,000' or 'Unlimited'.
    limit: str
    percentage: int
    is_near_limit: bool
    is_over_limit: bool
    #: '$0.001 per API call' on the plan's metered metric, and what this period's use costs.
    unit_price: str = ""
    cost_so_far: str = ""


@dataclass(frozen=True)
class UsageOverview:
    subscription: Any = None
    plan_name: str = ""
    #: 'December 3, 2026 – January 3, 2027': the period the counters count.
    period: str = ""
    resets_on: str = ""
    rows: list[UsageRow] = field(default_factory=list)
    #: Limits that are not uses in a period ('Up to 10 team members').
    standing_limits: list[str] = field(default_factory=list)


def _metered_cost(plan: Any, used: int) -> tuple[str, str]:
    metered = plan.metered_price
    amount = metered.unit_amount_decimal
    if amount is None:
        amount = metered.unit_amount
    currency = str(metered.currency or "")
    label = metric_label(plan.metered_metric).rstrip("s")
    unit = format_money(amount, currency)
    cost = format_money(Decimal(str(amount)) * used, currency) if amount is not None else ""
    return (f"{unit} per {label}" if unit else ""), cost


def usage_overview(user: AbstractBaseUser | AnonymousUser) -> UsageOverview:
    """The usage page of `user`: their subscription that grants access now, if any."""
    subscription = get_active_subscription(user)
    if subscription is None:
        return UsageOverview()
    plan = plan_of(subscription)
    metadata = ensure_metadata(subscription)
    limits: dict[str, Any] = dict(metadata.usage_limits or {})
    metrics = [metric for metric in limits if metric not in STANDING_LIMITS]
    metered_metric = plan.metered_metric if plan is not None and plan.is_metered else ""
    if metered_metric and metered_metric not in metrics:
        metrics.append(metered_metric)
    rows = []
    for metric in metrics:
        summary = usage.get_usage(user, metric)
        unit_price = cost = ""
        if metric == metered_metric:
            unit_price, cost = _metered_cost(plan, summary.current)
        rows.append(
            UsageRow(
                metric=metric,
                label=metric_label(metric),
                used=intcomma(summary.current),
                limit="Unlimited" if summary.limit is None else intcomma(summary.limit),
                percentage=summary.percentage,
                is_near_limit=summary.is_near_limit and not summary.is_over_limit,
                is_over_limit=summary.is_over_limit,
                unit_price=unit_price,
                cost_so_far=cost,
            )
        )
    starts = metadata.usage_period_start
    resets = renews_at(subscription)
    period = format_day(starts)
    if resets is not None:
        period = f"{period} – {format_day(resets)}"
    standing = {metric: limits[metric] for metric in limits if metric in STANDING_LIMITS}
    return UsageOverview(
        subscription=subscription,
        plan_name=plan.name if plan is not None else "",
        period=period,
        resets_on=format_day(resets),
        rows=rows,
        standing_limits=limit_lines(standing),
    )
