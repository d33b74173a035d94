"""The pages of advanced mode beside the shared ones: the usage page under /billing/ and the
example gated view at the site root."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import examples

billing_urlpatterns: list[URLPattern] = [
    path("usage/", examples.usage_view, name="usage"),
]
site_urlpatterns: list[URLPattern] = [
    path("reports/", examples.reports, name="reports"),
]
