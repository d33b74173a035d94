"""Billing pages and the Stripe webhook endpoint (basic mode). Logic lives in services/utils."""

from __future__ import annotations

import logging

import stripe
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .plans import get_plan_by_price_id, get_plans
from .stripe_api import StripeNotConfiguredError, is_configured
from .utils import create_checkout_session, get_active_subscription, get_customer_portal_url

logger = logging.getLogger(__name__)


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
    plan = get_plan_by_price_id(price_id)
    if plan is None:
        return render(
            request,
            "billing/error.html",
            {"message": "Unknown plan. Choose one of the plans on the pricing page."},
            status=400,
        )
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
        return render(request, "billing/error.html", {"message": str(exc)}, status=503)
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a checkout session: %s", exc)
        message = f"Stripe could not start checkout: {exc.user_message or 'please try again.'}"
        return render(request, "billing/error.html", {"message": message}, status=502)
    return redirect(session.url)


@login_required
def success(request: HttpRequest) -> HttpResponse:
    # The redirect proves nothing: access is granted by the webhook, not by this page.
    return render(
        request, "billing/success.html", {"subscription": get_active_subscription(request.user)}
    )


@login_required
def subscription(request: HttpRequest) -> HttpResponse:
    customer = getattr(request.user, "stripe_customer", None)
    context = {
        "subscription": get_active_subscription(request.user),
        "subscriptions": customer.subscriptions.all() if customer else [],
    }
    return render(request, "billing/subscription.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_portal(request: HttpRequest) -> HttpResponse:
    stripe_customer = getattr(request.user, "stripe_customer", None)
    if stripe_customer is None:
        messages.info(request, "You have no billing account yet: choose a plan first.")
        return redirect("billing:pricing")
    return_url = request.build_absolute_uri(reverse("billing:subscription"))
    try:
        portal_url = get_customer_portal_url(stripe_customer.stripe_customer_id, return_url)
    except StripeNotConfiguredError as exc:
        return render(request, "billing/error.html", {"message": str(exc)}, status=503)
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a portal session: %s", exc)
        message = f"Stripe could not open the portal: {exc.user_message or 'please try again.'}"
        return render(request, "billing/error.html", {"message": message}, status=502)
    return redirect(portal_url)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = services.handle_webhook(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except services.WebhookRejectedError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except services.WebhookNotConfiguredError as exc:
        logger.error("%s", exc)
        return JsonResponse({"error": str(exc)}, status=503)
    except services.EventProcessingError as exc:
        return JsonResponse(
            {"error": "processing_failed", "event": exc.event.stripe_event_id}, status=500
        )
    return JsonResponse({"id": event.stripe_event_id, "status": event.status})
