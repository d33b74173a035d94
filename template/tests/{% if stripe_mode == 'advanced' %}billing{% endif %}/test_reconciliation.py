"""The nightly reconciliation against the offline Stripe: a subscription is changed there and
its webhook is never delivered (the fake holds events until `deliver()`); the task reads
Stripe, corrects the database through dj-stripe's sync and logs each correction."""

from __future__ import annotations

import logging

import pytest
import stripe
from djstripe.models import Subscription as StripeSubscription

from apps.billing.models import SubscriptionMetadata
from apps.billing.reconciliation import reconcile_subscriptions
from apps.billing.tasks import reconcile_subscriptions as reconcile_task
from apps.billing.utils import get_active_subscription

from . import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def options(stripe_fake):
    return {"api_key": stripe_fake.api_key}


@pytest.fixture
def subscribed(user, stripe_fake, catalog):
    """A Pro subscription, created at Stripe and applied from its webhooks."""
    created = factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()
    assert get_active_subscription(user).id == created.id
    return created


@pytest.fixture
def corrections(caplog):
    """The correction lines the reconciliation logged."""
    caplog.set_level(logging.INFO, logger="apps.billing.reconciliation")

    def lines() -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if record.name == "apps.billing.reconciliation" and record.levelno == logging.WARNING
        ]

    return lines


def test_a_subscription_in_step_with_stripe_is_left_alone(subscribed, corrections):
    assert reconcile_task.delay().get() == {"checked": 1, "corrected": 0, "failed": 0, "seats": 0}
    assert corrections() == []


def test_a_missed_cancellation_at_period_end_is_corrected(
    user, subscribed, options, corrections, stripe_fake
):
    stripe.Subscription.modify(subscribed.id, cancel_at_period_end=True, **options)
    local = StripeSubscription.objects.get(id=subscribed.id)
    assert local.cancel_at_period_end is False  # the webhook has not arrived

    assert reconcile_task.delay().get() == {"checked": 1, "corrected": 1, "failed": 0, "seats": 0}
    local.refresh_from_db()
    assert local.cancel_at_period_end is True
    (line,) = corrections()
    assert subscribed.id in line and "cancel_at_period_end: False → True" in line
    assert get_active_subscription(user) is not None  # access until the period ends

    stripe_fake.deliver()  # the late webhook changes nothing more
    assert reconcile_subscriptions().corrections == []


def test_a_missed_cancellation_ends_access(user, subscribed, options, corrections):
    stripe.Subscription.cancel(subscribed.id, **options)
    assert get_active_subscription(user) is not None  # the webhook has not arrived

    result = reconcile_subscriptions()
    assert [c.subscription_id for c in result.corrections] == [subscribed.id]
    assert result.corrections[0].changes["status"] == ("active", "canceled")
    assert get_active_subscription(user) is None
    (line,) = corrections()
    assert "status: 'active' → 'canceled'" in line


def test_a_missed_change_of_plan_moves_the_entitlements(
    user, subscribed, options, catalog, corrections
):
    item = stripe.Subscription.retrieve(subscribed.id, **options)["items"]["data"][0]
    stripe.Subscription.modify(
        subscribed.id,
        items=[{"id": item["id"], "price": catalog["enterprise"].stripe_price_id}],
        **options,
    )
    assert SubscriptionMetadata.objects.get(subscription_id=subscribed.id).plan.slug == "pro"

    reconcile_subscriptions()
    metadata = SubscriptionMetadata.objects.get(subscription_id=subscribed.id)
    assert metadata.plan.slug == "enterprise"
    assert metadata.usage_limits == catalog["enterprise"].limits
    (line,) = corrections()
    assert catalog["enterprise"].stripe_price_id in line


def test_a_subscription_whose_webhooks_never_came_is_created(user, catalog, corrections):
    created = factories.stripe_subscription(user=user, plan=catalog["pro"])  # not delivered
    assert get_active_subscription(user) is None

    result = reconcile_subscriptions()
    assert result.corrections[0].changes["subscription"] == (None, created.id)
    assert "entitlements" in result.corrections[0].changes
    subscription = get_active_subscription(user)
    assert subscription is not None and subscription.id == created.id
    assert SubscriptionMetadata.objects.get(subscription_id=created.id).plan.slug == "pro"
    assert len(corrections()) == 1


def test_a_local_subscription_stripe_does_not_know_is_left_as_it_is(user, stripe_fake, caplog):
    """e.g. a database restored from another Stripe account: nothing to read it from."""
    local = factories.subscription(user=user)  # only in the database
    result = reconcile_subscriptions()
    assert (result.checked, result.corrections, result.failed) == (1, [], [])
    assert StripeSubscription.objects.get(id=local.id).status == local.status
    assert f"Subscription {local.id} is unknown to Stripe: left as it is" in caplog.messages
