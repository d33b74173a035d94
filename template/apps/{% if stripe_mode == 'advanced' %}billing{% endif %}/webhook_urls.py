"""Where Stripe's webhooks arrive (advanced mode): dj-stripe's routes at the site root."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from . import webhook_views

#: dj-stripe's route of webhook endpoints stored in the database, served by the project's view
#: (which verifies the signature before dj-stripe stores anything), under dj-stripe's name
#: `djstripe:djstripe_webhook_by_uuid` that its admin and `stripe_listen` reverse.
djstripe_urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "webhook/<uuid:uuid>/",
        webhook_views.EndpointWebhookView.as_view(),
        name="djstripe_webhook_by_uuid",
    ),
]

#: Mounted under /billing/ with the other billing pages (none in advanced mode).
billing_urlpatterns: list[URLPattern | URLResolver] = []
#: Mounted at the site root by config/urls.py: /djstripe/webhook/ signed with
#: DJSTRIPE_WEBHOOK_SECRET, and /djstripe/webhook/<uuid>/ for endpoints stored in the database.
site_urlpatterns: list[URLPattern | URLResolver] = [
    path("djstripe/webhook/", webhook_views.StripeWebhookView.as_view(), name="djstripe_webhook"),
    path("djstripe/", include((djstripe_urlpatterns, "djstripe"), namespace="djstripe")),
]
