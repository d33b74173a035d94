"""`make run` without Stripe keys: the offline Stripe gets the plans (apps/billing/offline.py)."""

from __future__ import annotations

import pytest

from apps.billing.models import PlanConfiguration
from apps.billing.offline import PLANS, WEBHOOK_PATH, bootstrap

pytestmark = pytest.mark.django_db


def test_bootstrap_creates_the_plans_and_points_the_project_at_the_fake(stripe_fake):
    env = bootstrap(api_base=stripe_fake.url, api_key=stripe_fake.api_key, webhook_secret="whsec_x")
    assert env["STRIPE_API_BASE"] == stripe_fake.url
    assert env["STRIPE_SECRET_KEY"] == stripe_fake.api_key
    assert env["DJSTRIPE_WEBHOOK_SECRET"] == "whsec_x"
    assert WEBHOOK_PATH == "/djstripe/webhook/"
    plans = list(PlanConfiguration.objects.all())
    assert [plan.slug for plan in plans] == [plan["slug"] for plan in PLANS]
    assert plans[0].is_popular and plans[0].limits["api_calls"] == 10000
    assert plans[2].is_metered and plans[2].limits == {"api_calls": None}


def test_a_second_run_repoints_the_plans_at_the_new_offline_stripe(stripe_fake):
    bootstrap(api_base=stripe_fake.url, api_key=stripe_fake.api_key, webhook_secret="whsec_x")
    first = dict(PlanConfiguration.objects.values_list("slug", "stripe_price_id"))
    stripe_fake.reset()  # the next `make run` starts an empty offline Stripe
    bootstrap(api_base=stripe_fake.url, api_key=stripe_fake.api_key, webhook_secret="whsec_x")
    second = dict(PlanConfiguration.objects.values_list("slug", "stripe_price_id"))
    assert second.keys() == first.keys()
    assert not set(second.values()) & set(first.values())
