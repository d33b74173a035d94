"""A subscription's entitlements (advanced mode): copied from its plan when it starts, replaced
when it moves to another plan, and otherwise left as staff edited them; a subscription to a
price no plan sells gets none, and keeps what it had."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.billing.models import SubscriptionMetadata
from apps.billing.services import ensure_metadata, sync_subscription_metadata

from . import factories

pytestmark = pytest.mark.django_db
START = 1_767_225_600  # 2026-01-01


def move_to(subscription: Any, price_id: str) -> None:
    """The subscription as Stripe has it after a change of price."""
    data = dict(subscription.stripe_data)
    data["items"]["data"][0]["price"] = {"id": price_id, "object": "price"}
    subscription.stripe_data = data
    subscription.save()


def test_a_new_subscription_gets_its_plans_entitlements(user: Any) -> None:
    plan = factories.plan("basic", features={"exports": True}, limits={"api_calls": 50})
    subscription = factories.subscription(user=user, plan=plan, period_start=START)
    metadata = SubscriptionMetadata.objects.get(subscription_id=subscription.id)
    assert metadata.plan == plan
    assert (metadata.features, metadata.usage_limits) == ({"exports": True}, {"api_calls": 50})
    assert metadata.usage_period_start == datetime.fromtimestamp(START, tz=UTC)


def test_staff_edits_survive_updates_on_the_same_plan(user: Any) -> None:
    subscription = factories.subscription(user=user, plan=factories.plan("basic"))
    SubscriptionMetadata.objects.filter(subscription_id=subscription.id).update(
        features={"beta": True}, usage_limits={"api_calls": 7}
    )
    metadata = sync_subscription_metadata(subscription)
    assert (metadata.features, metadata.usage_limits) == ({"beta": True}, {"api_calls": 7})


def test_a_move_to_another_plan_replaces_the_entitlements(
    user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    basic = factories.plan("basic", features={"exports": True}, limits={"api_calls": 50})
    big = factories.plan("big", features={"sso": True}, limits={"api_calls": 5000})
    subscription = factories.subscription(user=user, plan=basic, period_start=START)
    SubscriptionMetadata.objects.filter(subscription_id=subscription.id).update(
        features={"beta": True}
    )
    move_to(subscription, big.stripe_price_id)
    with caplog.at_level(logging.INFO, logger="apps.billing.services"):
        sync_subscription_metadata(subscription)
    metadata = SubscriptionMetadata.objects.get(subscription_id=subscription.id)
    assert metadata.plan == big
    assert f"Subscription {subscription.id} moved to plan big" in caplog.messages
    assert (metadata.features, metadata.usage_limits) == ({"sso": True}, {"api_calls": 5000})
    assert metadata.usage_period_start == datetime.fromtimestamp(START, tz=UTC)


def test_a_price_no_plan_sells_gives_nothing_and_takes_nothing(user: Any) -> None:
    basic = factories.plan("basic", features={"exports": True}, limits={"api_calls": 50})
    subscription = factories.subscription(user=user, plan=basic)
    move_to(subscription, "price_sold_elsewhere")
    metadata = sync_subscription_metadata(subscription)
    assert (metadata.plan, metadata.features, metadata.usage_limits) == (
        basic,
        {"exports": True},
        {"api_calls": 50},
    )
    SubscriptionMetadata.objects.all().delete()
    fresh = ensure_metadata(type(subscription).objects.get(pk=subscription.pk))
    assert (fresh.plan, fresh.features, fresh.usage_limits) == (None, {}, {})


def test_metadata_missing_is_made_on_first_read(user: Any) -> None:
    plan = factories.plan("basic", limits={"api_calls": 50})
    subscription = factories.subscription(user=user, plan=plan)
    SubscriptionMetadata.objects.all().delete()
    reread = type(subscription).objects.get(pk=subscription.pk)
    assert ensure_metadata(reread).usage_limits == {"api_calls": 50}
    assert ensure_metadata(reread) is ensure_metadata(reread)
    assert SubscriptionMetadata.objects.count() == 1
