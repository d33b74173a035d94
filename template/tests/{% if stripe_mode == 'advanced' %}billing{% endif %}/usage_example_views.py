"""The documented usage and dashboard examples, as a project writes them, wired to URLs for
the tests (see urls.py; the gating examples are in example_views.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from apps.billing.decorators import usage_limit
from apps.billing.models import PlanConfiguration
from apps.billing.utils import check_usage_limit, get_active_subscription, record_usage


def process_request(request: HttpRequest) -> dict[str, Any]:
    return {"data": "response"}


# --- "Get User's Subscription" --------------------------------------------------------------


def dashboard_view(request):
    subscription = get_active_subscription(request.user)

    if subscription:
        # User has active subscription
        plan_config = PlanConfiguration.objects.get(stripe_product=subscription.plan.product)

        context = {
            "subscription": subscription,
            "plan": plan_config,
            "features": plan_config.features,
            "limits": plan_config.limits,
        }
    else:
        # No subscription
        context = {"subscription": None}

    return render(request, "billing/examples/dashboard.html", context)


# --- "Track Usage" ----------------------------------------------------------------------------


def api_endpoint(request):
    subscription = get_active_subscription(request.user)

    # Check if user is within limits
    can_use, remaining = check_usage_limit(subscription, metric="api_calls", limit=10000)

    if not can_use:
        return JsonResponse({"error": "API limit exceeded"}, status=429)

    # Process API request
    result = process_request(request)

    # Record usage
    record_usage(subscription, metric="api_calls", quantity=1)

    return JsonResponse(result)


# --- "Usage limits" ------------------------------------------------------------------------


@usage_limit("api_calls", limit=10000, period="month")
def limited_api_endpoint(request):
    """Limited to 10,000 API calls per month."""
    # Usage tracked automatically
    return JsonResponse({"data": "response"})


@usage_limit("api_calls", limit=3)
def three_calls(request: HttpRequest) -> HttpResponse:
    if request.GET.get("fail"):
        return JsonResponse({"error": "bad request"}, status=400)
    if request.GET.get("crash"):
        raise RuntimeError("view crashed")
    return JsonResponse({"ok": True})


@usage_limit("api_calls")
def plan_limited(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


@usage_limit("api_calls", limit=10)
def ten_calls(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


@usage_limit("api_calls", limit=3)
async def async_three_calls(request: HttpRequest) -> HttpResponse:
    if request.GET.get("fail"):
        return JsonResponse({"error": "bad request"}, status=400)
    if request.GET.get("crash"):
        raise RuntimeError("view crashed")
    return JsonResponse({"ok": True})
