"""Billing pages and the Stripe webhook endpoint (advanced mode). Logic lives in services."""

from __future__ import annotations

import logging

import stripe
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .models import PlanConfiguration, Subscription
from .stripe_api import StripeNotConfiguredError, is_configured, livemode
from .utils import create_checkout_session, get_active_subscription, get_customer_portal_url

logger = logging.getLogger(__name__)


def _error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "billing/error.html", {"message": message}, status=status)


def pricing(request: HttpRequest) -> HttpResponse:
    plans = PlanConfiguration.objects.select_related("stripe_price", "stripe_product")
    context = {
        "plans": plans,
        "subscription": get_active_subscription(request.user),
        "stripe_configured": is_configured(),
    }
    return render(request, "billing/pricing.html", context)


@login_required
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    price_id = request.POST.get("price_id", "")
    plan = PlanConfiguration.objects.filter(stripe_price_id=price_id).first() if price_id else None
    if plan is None:
        return _error(request, "Unknown plan. Choose one of the plans on the pricing page.", 400)
    if get_active_subscription(request.user) is not None:
        messages.info(request, "You already have a subscription: change it from here.")
        return redirect("billing:subscription")
    success_url = request.build_absolute_uri(reverse("billing:success"))
    try:
        session = create_checkout_session(
            user=request.user,
            price_id=plan.stripe_price_id,
            success_url=f"{success_url}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=request.build_absolute_uri(reverse("billing:pricing")),
            metadata={"plan_slug": plan.slug},
        )
    except StripeNotConfiguredError as exc:
        return _error(request, str(exc), 503)
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a checkout session: %s", exc)
        message = f"Stripe could not start checkout: {exc.user_message or 'please try again.'}"
        return _error(request, message, 502)
    return redirect(session.url)


@login_required
def success(request: HttpRequest) -> HttpResponse:
    # The redirect proves nothing: access is granted by the webhook, not by this page.
    return render(
        request, "billing/success.html", {"subscription": get_active_subscription(request.user)}
    )


@login_required
def subscription(request: HttpRequest) -> HttpResponse:
    history = Subscription.objects.filter(
        customer__subscriber=request.user, livemode=livemode()
    ).order_by("-created")
    context = {"subscription": get_active_subscription(request.user), "subscriptions": history}
    return render(request, "billing/subscription.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_portal(request: HttpRequest) -> HttpResponse:
    return_url = request.build_absolute_uri(reverse("billing:subscription"))
    try:
        portal_url = get_customer_portal_url(request.user, return_url)
    except services.NoStripeCustomerError:
        messages.info(request, "You have no billing account yet: choose a plan first.")
        return redirect("billing:pricing")
    except StripeNotConfiguredError as exc:
        return _error(request, str(exc), 503)
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a portal session: %s", exc)
        message = f"Stripe could not open the portal: {exc.user_message or 'please try again.'}"
        return _error(request, message, 502)
    return redirect(portal_url)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class StripeWebhookView(View):
    """POST /djstripe/webhook/: Stripe events signed with DJSTRIPE_WEBHOOK_SECRET."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            return services.process_webhook(request)
        except services.WebhookRejectedError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        except services.WebhookNotConfiguredError as exc:
            logger.error("%s", exc)
            return JsonResponse({"error": str(exc)}, status=503)
