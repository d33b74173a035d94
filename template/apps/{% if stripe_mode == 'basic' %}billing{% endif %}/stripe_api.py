"""How the project talks to Stripe: one place for keys, the pinned API version and errors."""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings

from .errors import StripeNotConfiguredError

__all__ = [
    "StripeNotConfiguredError",
    "configure_stripe_module",
    "is_configured",
    "livemode",
    "request_options",
]


#: The setting that holds the signing secret of the webhook endpoint (/billing/webhook/).
WEBHOOK_SECRET_SETTING = "STRIPE_WEBHOOK_SECRET"


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def livemode() -> bool:
    """True when the secret key is a live one (sk_live_/rk_live_): live events apply, test
    events are ignored; with a test key (or none), the reverse."""
    return settings.STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_"))


def request_options(**extra: Any) -> dict[str, Any]:
    """Per-request options for stripe-python: the secret key and the pinned API version."""
    if not is_configured():
        raise StripeNotConfiguredError
    return {
        "api_key": settings.STRIPE_SECRET_KEY,
        "stripe_version": settings.STRIPE_API_VERSION,
        **extra,
    }


def configure_stripe_module() -> None:
    """Point stripe-python at the configured API host (the offline Stripe in development)."""
    stripe.api_version = settings.STRIPE_API_VERSION
    # The offline Stripe only ever serves development (DEBUG on); see check billing.E004.
    if settings.STRIPE_API_BASE and settings.DEBUG:
        stripe.api_base = settings.STRIPE_API_BASE
        stripe.meter_events_api_base = settings.STRIPE_API_BASE
