from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.billing.utils import get_active_subscription


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    subscription = get_active_subscription(request.user)
    return render(request, "core/dashboard.html", {"subscription": subscription})
