"""Set up the offline Stripe for development (basic mode); used by `manage.py devserver`.

Creates a product and a recurring price in the offline Stripe for each plan of BILLING_PLANS
creates the demonstration promotion code (`offline_promotions`), and returns the environment
that points the project at it.
"""

from __future__ import annotations

import dataclasses
import json

import stripe
from django.conf import settings

from fakestripe import PUBLISHABLE_KEY

from .offline_promotions import create_demo_promotion_code
from .plans import get_plans

WEBHOOK_PATH = "/billing/webhook/"


def bootstrap(*, api_base: str, api_key: str, webhook_secret: str) -> dict[str, str]:
    client = stripe.StripeClient(
        api_key, base_addresses={"api": api_base}, stripe_version=settings.STRIPE_API_VERSION
    )
    plans = []
    for plan in get_plans():
        price = client.v1.prices.create(
            params={
                "product_data": {"name": plan.name, "metadata": {"plan_slug": plan.slug}},
                "unit_amount": plan.amount,
                "currency": plan.currency,
                "recurring": {"interval": plan.interval},  # type: ignore[typeddict-item]
            }
        )
        plans.append({**dataclasses.asdict(plan), "price_id": price.id})
    create_demo_promotion_code(api_base=api_base, api_key=api_key)
    return {
        "STRIPE_SECRET_KEY": api_key,
        "STRIPE_PUBLIC_KEY": PUBLISHABLE_KEY,
        "STRIPE_API_BASE": api_base,
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
        "BILLING_PLANS": json.dumps(plans),
    }
