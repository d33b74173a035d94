"""Feature gating for views (basic mode).

    @subscription_required                  any active or trialing subscription
    @plan_required('pro')                   that plan (by its slug in BILLING_PLANS)
    @plan_required(['pro', 'enterprise'])   any of these plans

Anonymous users go to the login page. Users without access are redirected to the pricing page
with a message, or get a JSON error (403) when the request asks for JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from django.http import HttpRequest, HttpResponse

from .access import deny, login_required
from .models import Subscription
from .utils import get_active_subscription

View = TypeVar("View", bound=Callable[..., HttpResponse])


def _gate(check: Callable[[HttpRequest, Subscription | None], HttpResponse | None]) -> Any:
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
    """Allow only subscribers of the given plan slug(s)."""
    allowed = {plans} if isinstance(plans, str) else set(plans)
    if not allowed:
        raise ValueError("plan_required needs at least one plan slug.")
    names = " or ".join(sorted(allowed))

    def check(request: HttpRequest, subscription: Subscription | None) -> HttpResponse | None:
        denied = _require_subscription(request, subscription)
        if denied is not None:
            return denied
        plan = subscription.plan if subscription is not None else None
        if plan is None or plan.slug not in allowed:
            return deny(
                request,
                code="plan_required",
                message=f"This feature is part of the {names} plan. Upgrade to continue.",
            )
        return None

    return _gate(check)
