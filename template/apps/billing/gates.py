"""Feature gating for views, the same in both billing modes (import from `decorators`).

    @subscription_required                      any active or trialing subscription
    @plan_required('pro')                       that plan (by its slug)
    @plan_required(['pro', 'enterprise'])       any of these plans
    @feature_required('advanced_analytics')     a plan whose features include it

Anonymous users go to the login page (JSON clients get 401). Users without access are
redirected to the pricing page with a message, or get a JSON error (403) when the request asks
for JSON (see `access`). Every gate works on plain and on `async def` views: for an async view
the database lookups run in a thread (`sync_to_async`) and the view is awaited.

The gates read the subscription through `selectors` (`get_active_subscription`,
`plan_slug_of`, `features_of`), which each billing mode implements with the same interface.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from .access import deny, login_required
from .selectors import features_of, get_active_subscription, plan_slug_of

View = TypeVar("View", bound=Callable[..., Any])
#: A gate's rule: the denial response for this request and subscription, or None to let it in.
Check = Callable[[HttpRequest, Any], HttpResponse | None]


def admit(request: HttpRequest, check: Check) -> HttpResponse | None:
    """The denial response for this request (login first, then `check`), or None."""
    denied = login_required(request)
    if denied is not None:
        return denied
    return check(request, get_active_subscription(request.user))


def gate(check: Check) -> Callable[[View], View]:
    """A view decorator that answers with `check`'s denial, or runs the view."""

    def decorator(view: View) -> View:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                denied = await sync_to_async(admit)(request, check)
                if denied is not None:
                    return denied
                return await view(request, *args, **kwargs)

            return async_wrapped  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            denied = admit(request, check)
            return denied if denied is not None else view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def require_subscription(request: HttpRequest, subscription: Any) -> HttpResponse | None:
    """The rule of `subscription_required`; the other gates apply it first."""
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
    decorator = gate(require_subscription)
    return decorator(view) if view is not None else decorator


def plan_required(plans: str | Iterable[str]) -> Callable[[View], View]:
    """Allow only subscribers of the given plan slug(s)."""
    allowed = {plans} if isinstance(plans, str) else set(plans)
    if not allowed:
        raise ValueError("plan_required needs at least one plan slug.")
    names = " or ".join(sorted(allowed))

    def check(request: HttpRequest, subscription: Any) -> HttpResponse | None:
        denied = require_subscription(request, subscription)
        if denied is not None:
            return denied
        if plan_slug_of(subscription) not in allowed:
            return deny(
                request,
                code="plan_required",
                message=f"This feature is part of the {names} plan. Upgrade to continue.",
            )
        return None

    return gate(check)


def feature_required(feature: str) -> Callable[[View], View]:
    """Allow only subscribers whose plan (or subscription) enables `feature`."""
    if not feature:
        raise ValueError("feature_required needs a feature name.")

    def check(request: HttpRequest, subscription: Any) -> HttpResponse | None:
        denied = require_subscription(request, subscription)
        if denied is not None:
            return denied
        if not features_of(subscription).get(feature):
            return deny(
                request,
                code="feature_required",
                message="Your plan does not include this feature. Upgrade to continue.",
                extra={"feature": feature},
            )
        return None

    return gate(check)
