"""System checks for billing configuration (ids billing.E00x / billing.W00x)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from .plans import get_plans


@register(Tags.compatibility)
def check_stripe_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    key = settings.STRIPE_SECRET_KEY
    if key and not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
        messages.append(
            Error(
                "STRIPE_SECRET_KEY does not look like a Stripe secret key.",
                hint="Use the sk_test_... or sk_live_... key from the Stripe dashboard.",
                id="billing.E001",
            )
        )
    public = settings.STRIPE_PUBLIC_KEY
    if public and not public.startswith(("pk_test_", "pk_live_")):
        messages.append(
            Error(
                "STRIPE_PUBLIC_KEY does not look like a Stripe publishable key.",
                hint="Use the pk_test_... or pk_live_... key from the Stripe dashboard.",
                id="billing.E002",
            )
        )
    secret_live = key.startswith(("sk_live_", "rk_live_"))
    if key and public and public.startswith("pk_live_") != secret_live:
        messages.append(
            Error(
                "STRIPE_PUBLIC_KEY and STRIPE_SECRET_KEY are of different modes (test, live).",
                hint="Webhooks of the secret key's mode apply, the others are ignored: use the "
                "two keys of one mode from the Stripe dashboard.",
                id="billing.E005",
            )
        )
    try:
        get_plans()
    except ImproperlyConfigured as exc:
        messages.append(Error(str(exc), hint="Fix the BILLING_PLANS setting.", id="billing.E003"))
    return messages


@register(Tags.compatibility)
def check_offline_stripe(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The offline Stripe is for development: never with DEBUG off (production)."""
    if settings.STRIPE_API_BASE and not settings.DEBUG:
        return [
            Error(
                "STRIPE_API_BASE points Stripe calls at the offline Stripe while DEBUG is off.",
                hint="STRIPE_API_BASE is for development only; unset it in production.",
                id="billing.E004",
            )
        ]
    return []
