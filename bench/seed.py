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

    for i in range(SUBSCRIPTIONS):
        user, _ = get_user_model().objects.get_or_create(email=f"bench{i}@example.com")
        StripeCustomer.objects.get_or_create(user=user, stripe_customer_id=f"cus_bench{i:06d}")
    return {
        "path": "/billing/webhook/",
        "customer": "cus_bench",
        "subscription": "sub_bench",
        "subscriptions": SUBSCRIPTIONS,
    }


def seed_advanced() -> dict[str, object]:
    try:
        from apps.billing.benchmarks import seed_for_ingest  # provided by advanced mode
    except ImportError:
        return {"skip": "advanced mode has no ingest seed yet"}
    return seed_for_ingest()


if __name__ == "__main__":
    mode = sys.argv[1]
    print(json.dumps(seed_basic() if mode == "basic" else seed_advanced()))
