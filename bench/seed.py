"""Seed a migrated project database for the webhook benchmarks; prints what the client needs.

Runs with the generated project's Python, in the project directory, with its settings:
    python seed.py MODE              100 linked customers, each with a subscription (ingest)
    python seed.py MODE COUNT TAG    COUNT more customers, each with a subscription the project
                                     has not seen yet (end to end: an event's subscription row
                                     appears when the event is applied)
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


def seed_basic_new(count: int, tag: str) -> dict[str, object]:
    """Linked customers in bulk; their subscriptions exist only in the events sent later."""
    from apps.billing.models import StripeCustomer

    users = get_user_model().objects.bulk_create(
        get_user_model()(email=f"e2e-{tag}-{i}@example.com", password="!") for i in range(count)
    )
    customers = StripeCustomer.objects.bulk_create(
        StripeCustomer(user=user, stripe_customer_id=f"cus_e2e_{tag}_{i:06d}")
        for i, user in enumerate(users)
    )
    pairs = [(c.stripe_customer_id, f"sub_e2e_{tag}_{i:06d}") for i, c in enumerate(customers)]
    return {"path": "/billing/webhook/", "pairs": pairs}


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


def seed_advanced(count: int = SUBSCRIPTIONS, tag: str = "") -> dict[str, object]:
    """Customers and subscriptions in the offline Stripe: dj-stripe re-fetches each event's
    subscription from Stripe, so they must exist there (and only there: the project's tables
    get them when their events are applied)."""
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
    for i in range(count):
        email = f"e2e-{tag}-{i}@example.com" if tag else f"bench{i}@example.com"
        user, _ = get_user_model().objects.get_or_create(email=email)
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
    if len(sys.argv) > 2:
        count, tag = int(sys.argv[2]), sys.argv[3]
        seeded = seed_basic_new(count, tag) if mode == "basic" else seed_advanced(count, tag)
    else:
        seeded = seed_basic() if mode == "basic" else seed_advanced()
    print(json.dumps(seeded))
