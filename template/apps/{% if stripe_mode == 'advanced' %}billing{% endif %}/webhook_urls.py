"""Where Stripe's webhooks arrive (advanced mode): dj-stripe's routes at the site root."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from . import webhook_views

#: Mounted under /billing/ with the other billing pages (none in advanced mode).
billing_urlpatterns: list[URLPattern | URLResolver] = []
#: Mounted at the site root by config/urls.py: /djstripe/webhook/ signed with
#: DJSTRIPE_WEBHOOK_SECRET, and dj-stripe's /djstripe/webhook/<uuid>/ for endpoints stored in
#: the database.
site_urlpatterns: list[URLPattern | URLResolver] = [
    path("djstripe/webhook/", webhook_views.StripeWebhookView.as_view(), name="djstripe_webhook"),
    path("djstripe/", include("djstripe.urls", namespace="djstripe")),
]
