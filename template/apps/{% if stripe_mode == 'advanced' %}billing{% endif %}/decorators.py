"""Feature gating for views (advanced mode): the shared gates of `gates`, plus usage limits.

    @subscription_required                      any subscription that grants access: active,
                                                trialing, past_due unless
                                                BILLING_PAST_DUE_ACCESS is off
    @plan_required('pro')                       that plan (PlanConfiguration slug)
    @plan_required(['pro', 'enterprise'])       any of these plans
    @feature_required('advanced_analytics')     a plan whose features include it
    @usage_limit('api_calls', limit=10000, period='month')
                                                at most that many successful calls per period
                                                (limit=None: the plan's limits['api_calls'])

Anonymous users go to the login page (JSON clients get 401). Users without access are
redirected to the pricing page with a message, or get a JSON error (403) when the request asks
for JSON. Over a usage limit, every client gets 429 with a JSON body. Every decorator works on
plain and on `async def` views.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import usage
from .gates import (
    View,
    admit,
    feature_required,
    plan_required,
    require_subscription,
    subscription_required,
)

__all__ = ["feature_required", "plan_required", "subscription_required", "usage_limit"]


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

    def reserve(request: HttpRequest) -> tuple[HttpResponse | None, Any]:
        """(denial, None), or (None, (subscription, consumption)) for a reserved use."""
        reserved: list[Any] = []

        def check(request: HttpRequest, subscription: Any) -> HttpResponse | None:
            denied = require_subscription(request, subscription)
            if denied is not None:
                return denied
            allowed = usage.limit_for(subscription, metric) if limit is None else limit
            consumption = usage.reserve(
                subscription=subscription, metric=metric, quantity=quantity, limit=allowed
            )
            if not consumption.allowed:
                return _over_limit(consumption)
            reserved.append((subscription, consumption))
            return None

        denied = admit(request, check)
        return denied, (reserved[0] if reserved else None)

    def settle(reservation: Any, response: HttpResponse) -> HttpResponse:
        """Record the use of a successful answer, give it back otherwise."""
        subscription, consumption = reservation
        if response.status_code >= 400:
            usage.release(consumption)
        else:
            usage.commit(consumption, subscription=subscription)
            if consumption.limit is not None:
                response.headers["X-Usage-Limit"] = str(consumption.limit)
                response.headers["X-Usage-Remaining"] = str(consumption.remaining)
        return response

    def decorator(view: View) -> View:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                denied, reservation = await sync_to_async(reserve)(request)
                if denied is not None:
                    return denied
                try:
                    response = await view(request, *args, **kwargs)
                except BaseException:
                    await sync_to_async(usage.release)(reservation[1])
                    raise
                return await sync_to_async(settle)(reservation, response)

            return async_wrapped  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            denied, reservation = reserve(request)
            if denied is not None:
                return denied
            try:
                response = view(request, *args, **kwargs)
            except BaseException:
                usage.release(reservation[1])
                raise
            return settle(reservation, response)

        return wrapped  # type: ignore[return-value]

    return decorator


def _over_limit(consumption: usage.Consumption) -> HttpResponse:
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
