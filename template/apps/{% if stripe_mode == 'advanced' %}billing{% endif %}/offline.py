"""Set up the offline Stripe for development (advanced mode); used by `manage.py devserver`.

Creates the plans below as products (with `plan_slug`, `features` and `limits` metadata) and
prices in the offline Stripe, the `api_calls` Billing Meter of the metered plan, syncs them
into dj-stripe's tables and PlanConfiguration (matched by slug: the offline Stripe starts empty
on every run), creates the demonstration promotion code (`offline_promotions`), and returns the
environment that points the project at it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from django.conf import settings

from fakestripe import PUBLISHABLE_KEY

from .offline_promotions import create_demo_promotion_code
from .plans import sync_plans, sync_products_and_prices

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/djstripe/webhook/"

PLANS: list[dict[str, Any]] = [
    {
        "name": "Pro",
        "slug": "pro",
        "amount": 2900,
        "features": {"api_access": True, "advanced_analytics": True, "priority_support": False},
        "limits": {"api_calls": 10000, "team_members": 10},
        "is_popular": True,
    },
    {
        "name": "Enterprise",
        "slug": "enterprise",
        "amount": 9900,
        "features": {"api_access": True, "advanced_analytics": True, "priority_support": True},
        "limits": {"api_calls": 100000, "team_members": 100},
    },
    {
        "name": "Pay as you go",
        "slug": "usage",
        "amount": 900,
        "features": {"api_access": True},
        "limits": {"api_calls": None},
        "metered": {"meter_event_name": "api_calls", "unit_amount_decimal": "0.1"},
    },
]


def bootstrap(*, api_base: str, api_key: str, webhook_secret: str) -> dict[str, str]:
    stripe.api_base = api_base  # dj-stripe's sync below calls the offline Stripe too
    options: dict[str, Any] = {"api_key": api_key, "stripe_version": settings.STRIPE_API_VERSION}
    product_ids = []
    for order, plan in enumerate(PLANS):
        metadata = {
            "plan_slug": plan["slug"],
            "display_order": str(order),
            "features": json.dumps(plan["features"]),
            "limits": json.dumps(plan["limits"]),
            "is_popular": "true" if plan.get("is_popular") else "false",
        }
        product = stripe.Product.create(name=plan["name"], metadata=metadata, **options)
        product_ids.append(product.id)
        stripe.Price.create(
            product=product.id,
            unit_amount=plan["amount"],
            currency=settings.BILLING_CURRENCY,
            recurring={"interval": "month"},
            **options,
        )
        metered = plan.get("metered")
        if metered:
            meter = stripe.billing.Meter.create(
                display_name=plan["name"],
                event_name=metered["meter_event_name"],
                default_aggregation={"formula": "sum"},
                **options,
            )
            stripe.Price.create(
                product=product.id,
                currency=settings.BILLING_CURRENCY,
                unit_amount_decimal=metered["unit_amount_decimal"],
                recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
                **options,
            )
    create_demo_promotion_code(api_base=api_base, api_key=api_key)
    sync_products_and_prices(api_key=api_key)
    for line in sync_plans(update=True, by_slug=True, product_ids=product_ids, api_key=api_key):
        logger.info("Offline Stripe plans: %s", line)
    return {
        "STRIPE_SECRET_KEY": api_key,
        "STRIPE_PUBLIC_KEY": PUBLISHABLE_KEY,
        "STRIPE_API_BASE": api_base,
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
        "DJSTRIPE_WEBHOOK_SECRET": webhook_secret,
    }
