"""How the project talks to Stripe (advanced mode): keys, the pinned API version, the API host.

dj-stripe reads the same settings: STRIPE_SECRET_KEY is the key in use, STRIPE_LIVE_MODE says
which mode's objects the project works with.
"""

from __future__ import annotations

import re
from typing import Any

import stripe
from django.conf import settings

from .errors import StripeNotConfiguredError

#: dj-stripe refuses other keys (djstripe.models.api.API_KEY_REGEX), lazily and with a traceback.
SECRET_KEY_PATTERN = re.compile(r"^(sk|rk)_(test|live)_[a-zA-Z0-9]{24,}$")
PUBLIC_KEY_PATTERN = re.compile(r"^pk_(test|live)_[a-zA-Z0-9]{24,}$")


__all__ = [
    "StripeNotConfiguredError",
    "configure_stripe_module",
    "is_configured",
    "livemode",
    "request_options",
    "secret_key",
]


#: The setting that holds the signing secret of the webhook endpoint (/djstripe/webhook/).
WEBHOOK_SECRET_SETTING = "DJSTRIPE_WEBHOOK_SECRET"


def secret_key() -> str:
    """The secret key in use; raises StripeNotConfiguredError if it is missing or malformed."""
    key = settings.STRIPE_SECRET_KEY
    if not key:
        raise StripeNotConfiguredError
    if not SECRET_KEY_PATTERN.match(key):
        raise StripeNotConfiguredError(
            "Stripe is not configured: STRIPE_SECRET_KEY does not look like a Stripe secret key "
            "(sk_test_... or sk_live_...)"
        )
    return key


def is_configured() -> bool:
    try:
        secret_key()
    except StripeNotConfiguredError:
        return False
    return True


def livemode() -> bool:
    return bool(settings.STRIPE_LIVE_MODE)


def request_options(*, api_key: str | None = None) -> dict[str, Any]:
    """Per-request options for stripe-python: the secret key and the pinned API version."""
    return {"api_key": api_key or secret_key(), "stripe_version": settings.STRIPE_API_VERSION}


def configure_stripe_module() -> None:
    """Pin the API version and point stripe-python (and so dj-stripe) at the configured host."""
    stripe.api_version = settings.STRIPE_API_VERSION
    # The offline Stripe only ever serves development (DEBUG on): anywhere else the secret key
    # goes to api.stripe.com only (production settings refuse STRIPE_API_BASE at start-up).
    if settings.STRIPE_API_BASE and settings.DEBUG:
        stripe.api_base = settings.STRIPE_API_BASE
        stripe.meter_events_api_base = settings.STRIPE_API_BASE
