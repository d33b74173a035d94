"""Feature gating for views (advanced mode).

    @subscription_required                      any active or trialing subscription
    @plan_required('pro')                       that plan (PlanConfiguration slug)
    @plan_required(['pro', 'enterprise'])       any of these plans
    @feature_required('advanced_analytics')     a plan whose features include it
    @usage_limit('api_calls', limit=10000, period='month')
                                                at most that many successful calls per period
                                                (limit=None: the plan's limits['api_calls'])

Anonymous users go to the login page (JSON clients get 401). Users without access are
redirected to the pricing page with a message, or get a JSON error (403) when the request asks
for JSON. Over a usage limit, every client gets 429 with a JSON body.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from django.http import HttpRequest, HttpResponse, JsonResponse

from . import usage
from .access import deny, login_required
from .models import Subscription
from .utils import get_active_subscription

View = TypeVar("View", bound=Callable[..., HttpResponse])
Check = Callable[[HttpRequest, Subscription | None], HttpResponse | None]


def _gate(check: Check) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            denied = login_required(request)
            if denied is not None:
                return denied
            denied = check(request, get_active_subscription(request.user))
            return denied if denied is not None else view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def _require_subscription(
    request: HttpRequest, subscription: Subscription | None
) -> HttpResponse | None:
    if subscription is None:
        return deny(
            request,
            code="subscription_required",
            message="This feature needs an active subscription. Choose a plan to continue.",
        )
    return None


@overload
def subscription_required(view: View) -> View: ...
@overload
def subscription_required(view: None = None) -> Callable[[View], View]: ...
def subscription_required(view: View | None = None) -> Any:
    """Allow only users with an active (or trialing) subscription."""
    decorator = _gate(_require_subscription)
    return decorator(view) if view is not None else decorator


def plan_required(plans: str | Iterable[str]) -> Callable[[View], View]:
    """Allow only subscribers of the given plan slug(s) (PlanConfiguration.slug)."""
    allowed = {plans} if isinstance(plans, str) else set(plans)
    if not allowed:
        raise ValueError("plan_required needs at least one plan slug.")
    names = " or ".join(sorted(allowed))

    def check(request: HttpRequest, subscription: Subscription | None) -> HttpResponse | None:
        denied = _require_subscription(request, subscription)
        if denied is not None or subscription is None:
            return denied
        plan = usage.plan_of(subscription)
        if plan is None or plan.slug not in allowed:
            return deny(
                request,
                code="plan_required",
                message=f"This feature is part of the {names} plan. Upgrade to continue.",
            )
        return None

    return _gate(check)


def feature_required(feature: str) -> Callable[[View], View]:
    """Allow only subscribers whose plan (or subscription metadata) enables `feature`."""
    if not feature:
        raise ValueError("feature_required needs a feature name.")

    def check(request: HttpRequest, subscription: Subscription | None) -> HttpResponse | None:
        denied = _require_subscription(request, subscription)
        if denied is not None or subscription is None:
            return denied
        features = usage.ensure_metadata(subscription).features or {}
        if not features.get(feature):
            return deny(
                request,
                code="feature_required",
                message="Your plan does not include this feature. Upgrade to continue.",
                extra={"feature": feature},
            )
        return None

    return _gate(check)


def usage_limit(
    metric: str, limit: int | None = None, period: str = "month", quantity: int = 1
) -> Callable[[View], View]:
    """Allow at most `limit` successful calls (of `quantity` each) per usage period.

    `limit=None` uses the subscription's limit for `metric` (its plan's `limits`). A call is
    reserved atomically before the view runs, so concurrent requests never exceed the limit;
    it is recorded (`record_usage`) when the view answers below 400 and given back otherwise.
    `period='month'` is the subscription's usage period: its billing month, reset when the
    renewal invoice is paid.
    """
    if period not in usage.PERIODS:
        raise ValueError(f"usage_limit period must be one of {usage.PERIODS}, got {period!r}.")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"usage_limit limit must be a non-negative integer, got {limit!r}.")
    if not isinstance(quantity, int) or quantity < 1:
        raise ValueError(f"usage_limit quantity must be a positive integer, got {quantity!r}.")

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            denied = login_required(request)
            if denied is not None:
                return denied
            subscription = get_active_subscription(request.user)
            denied = _require_subscription(request, subscription)
            if denied is not None or subscription is None:
                return denied  # type: ignore[return-value]
            allowed = usage.limit_for(subscription, metric) if limit is None else limit
            consumption = usage.reserve(
                subscription=subscription, metric=metric, quantity=quantity, limit=allowed
            )
            if not consumption.allowed:
                return _over_limit(request, consumption)
            try:
                response = view(request, *args, **kwargs)
            except BaseException:
                usage.release(consumption)
                raise
            if response.status_code >= 400:
                usage.release(consumption)
            else:
                usage.commit(consumption, subscription=subscription)
                if consumption.limit is not None:
                    response.headers["X-Usage-Limit"] = str(consumption.limit)
                    response.headers["X-Usage-Remaining"] = str(consumption.remaining)
            return response

        return wrapped  # type: ignore[return-value]

    return decorator


def _over_limit(request: HttpRequest, consumption: usage.Consumption) -> HttpResponse:
    """429 with a JSON body, for pages and API clients alike (429 is not a redirect)."""
    detail = (
        f"You have used your {consumption.limit} {consumption.metric.replace('_', ' ')} "
        "for this billing period. Upgrade your plan to continue."
    )
    payload = {
        "error": "usage_limit_exceeded",
        "detail": detail,
        "metric": consumption.metric,
        "limit": consumption.limit,
        "used": consumption.current,
    }
    return JsonResponse(payload, status=429)
