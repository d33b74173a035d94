"""Pages of advanced mode beside the shared billing pages: usage, and an example gated view.

/reports/ shows how a paid feature is gated and counted: it needs a plan with the
`advanced_analytics` feature (others are sent to the pricing page with a message), and every
visit uses one of the plan's `api_calls`, so the usage page has something to show and a user
over the limit sees the page a denied request gets.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from apps.billing.overview import metric_label

from . import usage
from .decorators import feature_required
from .selectors import get_active_subscription
from .usage_page import usage_overview

#: The metric one report costs.
REPORT_METRIC = "api_calls"


@never_cache
@login_required
def usage_view(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/usage.html", {"usage": usage_overview(request.user)})


@never_cache
@feature_required("advanced_analytics")
def reports(request: HttpRequest) -> HttpResponse:
    subscription = get_active_subscription(request.user)
    consumption = usage.reserve(
        subscription=subscription,
        metric=REPORT_METRIC,
        limit=usage.limit_for(subscription, REPORT_METRIC),
    )
    if not consumption.allowed:
        # A person gets a page, not the JSON body `usage_limit` answers API clients with.
        context = {"limit": intcomma(consumption.limit), "metric": metric_label(REPORT_METRIC)}
        return render(request, "core/limit_reached.html", context, status=429)
    usage.commit(consumption, subscription=subscription)
    remaining = consumption.remaining
    context = {
        "counted": True,
        "remaining": "unlimited" if remaining is None else intcomma(remaining),
    }
    return render(request, "core/reports.html", context)
