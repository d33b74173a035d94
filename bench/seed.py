"""Seed a migrated project database for the ingest benchmark; prints what the client needs.

Runs with the generated project's Python, in the project directory, with its settings.
"""

from __future__ import annotations

import json
import os
import sys

import django

sys.path.insert(0, os.getcwd())
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

SUBSCRIPTIONS = 100


def seed_basic() -> dict[str, object]:
    from apps.billing.models import StripeCustomer

    pairs = []
    for i in range(SUBSCRIPTIONS):
        user, _ = get_user_model().objects.get_or_create(email=f"bench{i}@example.com")
        customer, _ = StripeCustomer.objects.get_or_create(
            user=user, defaults={"stripe_customer_id": f"cus_bench{i:06d}"}
        )
        pairs.append((customer.stripe_customer_id, f"sub_bench{i:06d}"))
    return {"path": "/billing/webhook/", "pairs": pairs}


def seed_advanced() -> dict[str, object]:
    """Customers and subscriptions in the offline Stripe: dj-stripe re-fetches each event's
    subscription from Stripe, so they must exist there."""
    import stripe
    from django.conf import settings

    options = {"api_key": settings.STRIPE_SECRET_KEY}
    price = stripe.Price.create(
        product_data={"name": "Bench"},
        unit_amount=1000,
        currency="usd",
        recurring={"interval": "month"},
        **options,
    )
    pairs = []
    for i in range(SUBSCRIPTIONS):
        user, _ = get_user_model().objects.get_or_create(email=f"bench{i}@example.com")
        customer = stripe.Customer.create(
            email=user.email,
            payment_method="pm_card_visa",
            invoice_settings={"default_payment_method": "pm_card_visa"},
            metadata={"djstripe_subscriber": str(user.pk)},
            **options,
        )
        subscription = stripe.Subscription.create(
            customer=customer.id, items=[{"price": price.id}], **options
        )
        pairs.append((customer.id, subscription.id))
    return {"path": "/djstripe/webhook/", "pairs": pairs}


if __name__ == "__main__":
    mode = sys.argv[1]
    print(json.dumps(seed_basic() if mode == "basic" else seed_advanced()))
