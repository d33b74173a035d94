"""The billing pages, the same in both modes: pricing, checkout, success, subscription and the
customer portal. Thin views: reads come from `selectors`, writes from `services` (per mode);
the webhook endpoint is in `webhook_views`."""

from __future__ import annotations

import logging

import stripe
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from .errors import NoStripeCustomerError, StripeNotConfiguredError
from .portal import get_customer_portal_url
from .selectors import get_active_subscription, get_plan_by_price_id, get_plans
from .selectors import subscription_history as get_subscription_history
from .services import create_checkout_session
from .stripe_api import is_configured

logger = logging.getLogger(__name__)


def _error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "billing/error.html", {"message": message}, status=status)


def _stripe_refused(request: HttpRequest, what: str, exc: stripe.StripeError) -> HttpResponse:
    logger.warning("Stripe refused a %s session: %s", what, exc)
    action = "start checkout" if what == "checkout" else "open the portal"
    message = f"Stripe could not {action}: {exc.user_message or 'please try again.'}"
    return _error(request, message, 502)


def pricing(request: HttpRequest) -> HttpResponse:
    context = {
        "plans": get_plans(),
        "subscription": get_active_subscription(request.user),
        "stripe_configured": is_configured(),
    }
    return render(request, "billing/pricing.html", context)


@login_required
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    price_id = request.POST.get("price_id", "")
    plan = get_plan_by_price_id(price_id) if price_id else None
    if plan is None:
        return _error(request, "Unknown plan. Choose one of the plans on the pricing page.", 400)
    if get_active_subscription(request.user) is not None:
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


@login_required
def success(request: HttpRequest) -> HttpResponse:
    # The redirect proves nothing: access is granted by the webhook, not by this page.
    return render(
        request, "billing/success.html", {"subscription": get_active_subscription(request.user)}
    )


@login_required
def subscription(request: HttpRequest) -> HttpResponse:
    context = {
        "subscription": get_active_subscription(request.user),
        "subscriptions": get_subscription_history(request.user),
    }
    return render(request, "billing/subscription.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_portal(request: HttpRequest) -> HttpResponse:
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
