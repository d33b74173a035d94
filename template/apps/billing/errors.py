"""The errors the billing API raises, the same in both billing modes."""

from __future__ import annotations


class StripeNotConfiguredError(RuntimeError):
    """Raised instead of calling Stripe when no usable secret key is set."""

    def __init__(self, message: str = "Stripe is not configured: set STRIPE_SECRET_KEY") -> None:
        super().__init__(message)


class NoStripeCustomerError(LookupError):
    """The user has never started a checkout: there is no Stripe customer to manage."""
