"""The billing pages, the same in both modes: pricing, checkout, success, subscription and the
customer portal. Thin views: reads come from `selectors`, writes from `services` (per mode);
the webhook endpoint is in `webhook_views`."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import stripe
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import plan_changes
from .checkout_state import CheckoutOutcome
from .errors import NoStripeCustomerError, StripeNotConfiguredError
from .money import format_money
from .overview import billing_overview
from .portal import get_customer_portal_url
from .selectors import (
    get_active_subscription,
    get_plan_by_price_id,
    get_plans,
    get_unended_subscription,
)
from .services import confirm_checkout_session, create_checkout_session
from .stripe_api import is_configured
from .templatetags.billing_tags import day

logger = logging.getLogger(__name__)


def _error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "billing/error.html", {"message": message}, status=status)


def _stripe_refused(request: HttpRequest, what: str, exc: stripe.StripeError) -> HttpResponse:
    logger.warning("Stripe refused a %s session: %s", what, exc)
    action = "start checkout" if what == "checkout" else "open the portal"
    message = f"Stripe could not {action}: {exc.user_message or 'please try again.'}"
    return _error(request, message, 502)


#: The success page re-checks a pending checkout every SUCCESS_REFRESH_SECONDS, at most
#: SUCCESS_MAX_CHECKS times (about half a minute), then stops and says what to do next.
SUCCESS_REFRESH_SECONDS = 3
SUCCESS_MAX_CHECKS = 10


# Billing pages show one person's money: never stored by a browser or a shared cache.
@never_cache
def pricing(request: HttpRequest) -> HttpResponse:
    context = {
        "plans": get_plans(),
        "stripe_configured": is_configured(),
    }
    return render(request, "billing/pricing.html", context)


@never_cache
@login_required
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    price_id = request.POST.get("price_id", "")
    plan = get_plan_by_price_id(price_id) if price_id else None
    if plan is None:
        return _error(request, "Unknown plan. Choose one of the plans on the pricing page.", 400)
    current = get_unended_subscription(request.user)
    if current is not None:
        # Any subscription that has not ended (past_due and unpaid included) is managed, not
        # bought again: a second one would bill the customer twice.
        if current.status in ("past_due", "unpaid"):
            messages.warning(
                request,
                "Your subscription has a payment due: update your payment method here "
                "instead of buying a second subscription.",
            )
        else:
            messages.info(request, "You already have a subscription: change it from here.")
        return redirect("billing:subscription")
    success_url = request.build_absolute_uri(reverse("billing:success"))
    try:
        session = create_checkout_session(
            user=request.user,
            price_id=plan.price_id,
            success_url=f"{success_url}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=request.build_absolute_uri(reverse("billing:pricing")),
            metadata={"plan_slug": plan.slug},
        )
    except StripeNotConfiguredError as exc:
        return _error(request, str(exc), 503)
    except stripe.StripeError as exc:
        return _stripe_refused(request, "checkout", exc)
    return redirect(session.url)


def _check_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("check", "1")), SUCCESS_MAX_CHECKS))
    except ValueError:
        return 1


@never_cache
@login_required
def success(request: HttpRequest) -> HttpResponse:
    """Back from Checkout: confirm the session with Stripe, so access starts now.

    The redirect alone proves nothing; the session, fetched from Stripe on the server and owned
    by this user, does. Its subscription is applied through the webhook's own code, so the
    webhook that follows changes nothing. While Stripe is still settling (or unreachable) the
    page checks again a bounded number of times, then says what to do next.
    """
    session_id = request.GET.get("session_id", "")
    confirmation = confirm_checkout_session(user=request.user, session_id=session_id)
    subscription = confirmation.subscription
    outcome = confirmation.outcome
    if outcome is not CheckoutOutcome.CONFIRMED:
        # A webhook may have granted access meanwhile (e.g. while Stripe is unreachable here).
        active = get_active_subscription(request.user)
        if active is not None and outcome in (
            CheckoutOutcome.PROCESSING,
            CheckoutOutcome.UNAVAILABLE,
        ):
            subscription, outcome = active, CheckoutOutcome.CONFIRMED
    check = _check_number(request)
    waiting = outcome in (CheckoutOutcome.PROCESSING, CheckoutOutcome.UNAVAILABLE)
    context = {
        "outcome": outcome.value,
        "subscription": subscription,
        "refresh_seconds": SUCCESS_REFRESH_SECONDS,
        "refresh_url": f"{reverse('billing:success')}?"
        + urlencode({"session_id": session_id, "check": check + 1}),
        "keep_checking": waiting and check < SUCCESS_MAX_CHECKS,
        "gave_up": waiting and check >= SUCCESS_MAX_CHECKS,
    }
    status = 404 if outcome is CheckoutOutcome.NOT_FOUND else 200
    return render(request, "billing/success.html", context, status=status)


@never_cache
@login_required
def subscription(request: HttpRequest) -> HttpResponse:
    """The billing page: plan, price, status, next invoice, payment method and invoices."""
    overview = billing_overview(request.user)
    context = {
        "overview": overview,
        "subscription": overview.subscription,
        "payment_due": overview.payment_due,
    }
    return render(request, "billing/subscription.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def customer_portal(request: HttpRequest) -> HttpResponse:
    """GET shows a button; its POST (CSRF-protected) opens a portal session on Stripe.

    A portal session is a one-time login to the customer's billing: only a POST from the
    project's own page may create one, never a link another site can make a browser follow.
    """
    if request.method == "GET":
        return render(request, "billing/portal.html")
    return_url = request.build_absolute_uri(reverse("billing:subscription"))
    try:
        portal_url = get_customer_portal_url(request.user, return_url)
    except NoStripeCustomerError:
        messages.info(request, "You have no billing account yet: choose a plan first.")
        return redirect("billing:pricing")
    except StripeNotConfiguredError as exc:
        return _error(request, str(exc), 503)
    except stripe.StripeError as exc:
        return _stripe_refused(request, "portal", exc)
    return redirect(portal_url)


# --- plan changes, cancel and resume (`plan_changes`) -----------------------------------------


def _plan_change_failed(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, StripeNotConfiguredError):
        return _error(request, str(exc), 503)
    logger.warning("Stripe refused a plan change: %s", exc)
    user_message = getattr(exc, "user_message", None) or "please try again."
    return _error(request, f"Stripe could not change your subscription: {user_message}", 502)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_plan(request: HttpRequest) -> HttpResponse:
    """GET lists the other plans, priced by Stripe; POST applies one quote (its signed token)."""
    if request.method == "POST":
        try:
            result = plan_changes.apply_plan_change(
                user=request.user, token=request.POST.get("quote", "")
            )
        except plan_changes.NotSubscribedError as exc:
            return render(request, "billing/change_plan.html", {"problem": str(exc)}, status=409)
        except plan_changes.PlanChangeError as exc:
            messages.error(request, str(exc))
            return redirect("billing:change_plan")
        except (StripeNotConfiguredError, stripe.StripeError) as exc:
            return _plan_change_failed(request, exc)
        if result.upgrade:
            charged = format_money(result.charged or 0, result.currency)
            messages.success(request, f"You are now on {result.plan_name}: {charged} charged.")
        else:
            messages.success(
                request, f"Your plan changes to {result.plan_name} on {day(result.applies_at)}."
            )
        return redirect("billing:subscription")
    try:
        quotes = plan_changes.quote_plan_changes(user=request.user)
    except plan_changes.PlanChangeError as exc:
        return render(request, "billing/change_plan.html", {"problem": str(exc)})
    except (StripeNotConfiguredError, stripe.StripeError) as exc:
        return _plan_change_failed(request, exc)
    context = {"quotes": quotes, "subscription": get_active_subscription(request.user)}
    return render(request, "billing/change_plan.html", context)


@never_cache
@login_required
@require_POST
def cancel_scheduled_change(request: HttpRequest) -> HttpResponse:
    try:
        plan_changes.cancel_scheduled_change(user=request.user)
    except plan_changes.PlanChangeError as exc:
        messages.error(request, str(exc))
    except (StripeNotConfiguredError, stripe.StripeError) as exc:
        return _plan_change_failed(request, exc)
    else:
        messages.success(request, "The scheduled plan change was canceled: your plan stays.")
    return redirect("billing:subscription")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; its POST cancels at the end of the paid period."""
    subscription = get_active_subscription(request.user)
    if request.method == "GET" or subscription is None:
        return render(request, "billing/cancel.html", {"subscription": subscription})
    try:
        ends = plan_changes.cancel_at_period_end(user=request.user)
    except plan_changes.PlanChangeError as exc:
        messages.error(request, str(exc))
        return redirect("billing:subscription")
    except (StripeNotConfiguredError, stripe.StripeError) as exc:
        return _plan_change_failed(request, exc)
    messages.success(request, f"Your subscription cancels on {day(ends)}.")
    return redirect("billing:subscription")


@never_cache
@login_required
@require_POST
def resume(request: HttpRequest) -> HttpResponse:
    try:
        plan_changes.resume_subscription(user=request.user)
    except plan_changes.PlanChangeError as exc:
        messages.error(request, str(exc))
    except (StripeNotConfiguredError, stripe.StripeError) as exc:
        return _plan_change_failed(request, exc)
    else:
        messages.success(request, "Your subscription continues: it renews as before.")
    return redirect("billing:subscription")
