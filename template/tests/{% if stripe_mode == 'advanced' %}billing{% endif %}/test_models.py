"""The documented models, as documented where today's dj-stripe allows it."""

from __future__ import annotations

import time

import pytest
from django.core.checks import run_checks
from djstripe.models import Price, Product
from djstripe.models import Subscription as StripeSubscription

from apps.billing.models import (
    PlanConfiguration,
    Subscription,
    SubscriptionMetadata,
    UsageRecord,
)
from apps.billing.plans import sync_products_and_prices
from apps.billing.utils import record_usage

from . import factories

pytestmark = pytest.mark.django_db


def test_plan_configuration_as_documented(stripe_fake):
    """The documented `PlanConfiguration.objects.create(...)`, with a product and price synced
    from (the offline) Stripe."""
    stripe_price = factories.stripe_monthly_price("Pro Plan", 2900)
    sync_products_and_prices()

    plan = PlanConfiguration.objects.create(
        stripe_product=Product.objects.get(id=stripe_price.product),
        stripe_price=Price.objects.get(id=stripe_price.id),
        name="Pro Plan",
        slug="pro",
        features={
            "api_access": True,
            "advanced_analytics": True,
            "priority_support": True,
        },
        limits={
            "api_calls": 10000,
            "team_members": 10,
            "storage_gb": 100,
        },
        is_popular=True,
    )

    plan.refresh_from_db()
    assert plan.stripe_price.unit_amount == 2900
    assert plan.stripe_price.id == stripe_price.id
    assert plan.stripe_product.name == "Pro Plan"
    assert plan.product == plan.stripe_product
    assert plan.limits["storage_gb"] == 100
    assert not plan.is_metered
    assert str(plan) == "Pro Plan (pro)"


def test_subscription_reads_periods_and_plan_from_its_items(user):
    """dj-stripe reads current_period_* and plan from the subscription; today they are on
    the items (dj-stripe's own property is None there)."""
    plan = factories.plan("pro", name="Pro")
    start = int(time.time()) - 3600
    subscription = factories.subscription(user=user, plan=plan, period_start=start)
    raw = StripeSubscription.objects.get(pk=subscription.pk)
    assert raw.current_period_end is None  # what dj-stripe 2.11 sees on API 2026-05-27
    with pytest.raises(TypeError):
        raw.is_valid()

    assert subscription.current_period_start.timestamp() == start
    assert subscription.current_period_end.timestamp() == start + 30 * factories.DAY
    assert subscription.is_valid()
    assert subscription.is_active
    assert subscription.plan.product.name == "Pro"  # the documented subscription.plan.product
    assert subscription.plan_configuration == plan
    assert subscription.plan_name == "Pro"
    # The documented dashboard lookup works as written.
    assert PlanConfiguration.objects.get(stripe_product=subscription.plan.product) == plan


def test_subscription_without_a_configured_price_still_names_its_product(user):
    plan = factories.plan("pro", name="Pro")
    subscription = factories.subscription(user=user, plan=plan)
    PlanConfiguration.objects.filter(pk=plan.pk).delete()
    subscription = Subscription.objects.get(pk=subscription.pk)
    assert subscription.plan_configuration is None
    assert subscription.plan.product.name == "Pro"
    assert subscription.plan_name == "Pro"


def test_subscription_metadata_is_reached_from_the_subscription(user):
    subscription = factories.subscription(user=user)
    # `related_name='metadata'` would clash with dj-stripe's own Subscription.metadata field
    # (fields.E302), so the accessor is `billing_metadata`.
    metadata = subscription.billing_metadata
    assert isinstance(metadata, SubscriptionMetadata)
    assert metadata.features == factories.PRO_FEATURES
    assert metadata.usage_limits == factories.PRO_LIMITS
    assert not [m for m in run_checks() if m.id.startswith("fields.")]


def test_subscription_metadata_created_by_subscription_id_as_documented(user):
    subscription = factories.subscription(user=user)
    SubscriptionMetadata.objects.filter(subscription=subscription).delete()
    SubscriptionMetadata.objects.create(subscription_id=subscription.id)  # "sub_..."
    assert SubscriptionMetadata.objects.get().subscription_id == subscription.id


def test_current_usage_reflects_the_counters(user):
    subscription = factories.subscription(user=user)
    record_usage(subscription, metric="api_calls", quantity=3)
    record_usage(subscription, metric="exports", quantity=1)
    assert subscription.billing_metadata.current_usage == {"api_calls": 3, "exports": 1}
    assert UsageRecord.objects.filter(subscription=subscription).count() == 2
    assert str(UsageRecord.objects.first()).startswith(subscription.id)
