"""System checks for billing configuration (ids billing.E00x / billing.W00x)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from .stripe_api import PUBLIC_KEY_PATTERN, SECRET_KEY_PATTERN


@register(Tags.compatibility)
def check_stripe_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name in ("STRIPE_SECRET_KEY", "STRIPE_TEST_SECRET_KEY", "STRIPE_LIVE_SECRET_KEY"):
        key = getattr(settings, name, "")
        if key and not SECRET_KEY_PATTERN.match(key):
            messages.append(
                Error(
                    f"{name} does not look like a Stripe secret key.",
                    hint="Use the sk_test_... or sk_live_... key from the Stripe dashboard "
                    "(dj-stripe refuses other keys when it first calls Stripe).",
                    id="billing.E001",
                )
            )
    public = settings.STRIPE_PUBLIC_KEY
    if public and not PUBLIC_KEY_PATTERN.match(public):
        messages.append(
            Error(
                "STRIPE_PUBLIC_KEY does not look like a Stripe publishable key.",
                hint="Use the pk_test_... or pk_live_... key from the Stripe dashboard.",
                id="billing.E002",
            )
        )
    key = settings.STRIPE_SECRET_KEY
    if key and key.startswith(("sk_live_", "rk_live_")) != bool(settings.STRIPE_LIVE_MODE):
        messages.append(
            Error(
                "STRIPE_LIVE_MODE does not match STRIPE_SECRET_KEY.",
                hint="Live keys (sk_live_...) need STRIPE_LIVE_MODE=true, test keys false; "
                "leave STRIPE_LIVE_MODE unset to follow the key.",
                id="billing.E003",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_offline_stripe_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if settings.STRIPE_API_BASE:
        messages.append(
            Error(
                "STRIPE_API_BASE points Stripe calls away from api.stripe.com.",
                hint="STRIPE_API_BASE is for the offline Stripe in development only; unset it.",
                id="billing.E004",
            )
        )
    return messages
