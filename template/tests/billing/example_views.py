"""The documented gating examples, as a project writes them: plain and `async def` views."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.billing.decorators import feature_required, plan_required, subscription_required


@subscription_required
def premium_feature(request):
    """Requires active subscription."""
    return HttpResponse("premium")


@plan_required("pro")
def pro_only_feature(request):
    """Only for Pro subscribers."""
    return HttpResponse("pro")


@plan_required(["pro", "enterprise"])
def premium_plans_feature(request):
    """For Pro or Enterprise subscribers."""
    return HttpResponse("pro or enterprise")


@feature_required("advanced_analytics")
def analytics_view(request):
    """Requires subscription with analytics feature."""
    return HttpResponse("analytics")


@subscription_required
async def async_premium_feature(request: HttpRequest) -> HttpResponse:
    """An async view behind the same gate."""
    return HttpResponse("async premium")


@plan_required("pro")
async def async_pro_only_feature(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async pro")


@feature_required("priority_support")
async def async_support_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async support")
