"""Billing settings of basic mode (the `stripe` library and the project's own models).

Imported by base.py after `.env` is read; environment variables win over the defaults here.
"""

from __future__ import annotations

import environ
from celery.schedules import crontab

env = environ.Env()

#: Apps the billing mode adds to INSTALLED_APPS (none: basic mode keeps its own models).
BILLING_APPS: list[str] = []
#: Template tag libraries every template may use without `{% load %}`.
BILLING_TEMPLATE_BUILTINS: list[str] = []

# The plans on the pricing page. `price_id` is the Stripe Price (price_...) of each plan; a plan
# whose price id is empty is listed but cannot be bought. Override the whole list with
# BILLING_PLANS (JSON) or just the price ids with STRIPE_PRICE_PRO / STRIPE_PRICE_ENTERPRISE.
BILLING_PLANS = env.json(
    "BILLING_PLANS",
    default=[
        {
            "slug": "pro",
            "name": "Pro",
            "price_id": env("STRIPE_PRICE_PRO", default=""),
            "amount": 2900,
            "interval": "month",
            "features": {"api_access": True, "advanced_analytics": True, "priority_support": False},
            "limits": {"api_calls": 10000, "team_members": 10},
            "is_popular": True,
        },
        {
            "slug": "enterprise",
            "name": "Enterprise",
            "price_id": env("STRIPE_PRICE_ENTERPRISE", default=""),
            "amount": 9900,
            "interval": "month",
            "features": {"api_access": True, "advanced_analytics": True, "priority_support": True},
            "limits": {"api_calls": 100000, "team_members": 100},
            "is_popular": False,
        },
    ],
)

#: Periodic tasks of this billing mode, added to CELERY_BEAT_SCHEDULE (config/settings/base.py).
BILLING_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Deferred events whose customer is known now, and events stored but never processed.
    "retry-webhook-events": {
        "task": "apps.billing.tasks.retry_webhook_events",
        "schedule": 60.0,
    },
    # Local subscriptions corrected from Stripe's, each correction logged; at night (TIME_ZONE).
    "reconcile-subscriptions": {
        "task": "apps.billing.tasks.reconcile_subscriptions",
        "schedule": crontab(hour=3, minute=30),
    },
}
