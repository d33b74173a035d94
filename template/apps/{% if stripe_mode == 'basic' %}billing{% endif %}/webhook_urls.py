"""Where Stripe's webhooks arrive (basic mode): /billing/webhook/, signed with
STRIPE_WEBHOOK_SECRET."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import webhook_views

#: Mounted under /billing/ with the other billing pages (`billing:webhook`).
billing_urlpatterns: list[URLPattern | URLResolver] = [
    path("webhook/", webhook_views.webhook, name="webhook"),
]
#: Mounted at the site root by config/urls.py (none in basic mode).
site_urlpatterns: list[URLPattern | URLResolver] = []
