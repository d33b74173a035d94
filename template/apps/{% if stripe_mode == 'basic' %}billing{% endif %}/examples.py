"""An example gated view (basic mode): /reports/ needs a plan with the `advanced_analytics`
feature; other users are sent to the pricing page with a message saying why."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from .decorators import feature_required


@never_cache
@feature_required("advanced_analytics")
def reports(request: HttpRequest) -> HttpResponse:
    return render(request, "core/reports.html", {"counted": False})
