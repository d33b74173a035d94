"""The pages of basic mode beside the shared ones: the example gated view at the site root
(basic mode counts no usage, so it has no usage page)."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import examples

billing_urlpatterns: list[URLPattern] = []
site_urlpatterns: list[URLPattern] = [
    path("reports/", examples.reports, name="reports"),
]
