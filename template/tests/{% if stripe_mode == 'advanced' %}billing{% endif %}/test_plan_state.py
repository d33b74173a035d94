"""The state of plan changes in advanced mode: the plans on offer from the plan configuration,
and the scheduled change read from dj-stripe's subscription schedules."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from djstripe.models import SubscriptionSchedule

from apps.billing.models import subscription_period
from apps.billing.plan_state import plan_options, scheduled_change

from . import factories

pytestmark = pytest.mark.django_db


def schedule_of(subscription: Any, next_price: str, *, status: str = "active") -> None:
    """A schedule as dj-stripe syncs it: the current phase, then one on `next_price`."""
    start = int(subscription_period(subscription, "current_period_start").timestamp())
    end = int(subscription_period(subscription, "current_period_end").timestamp())
    current = subscription.plan_configuration.price_id
    SubscriptionSchedule.objects.create(
        id=f"sub_sched_{subscription.id}",
        customer=subscription.customer,
        subscription=subscription,
        livemode=False,
        status=status,
        end_behavior="release",
        current_phase={"start_date": start, "end_date": end},
        phases=[
            {"start_date": start, "end_date": end, "items": [{"price": current, "quantity": 1}]},
            {"start_date": end, "end_date": end + 30 * 86400, "items": [{"price": next_price}]},
        ],
        stripe_data={"object": "subscription_schedule"},
    )


def test_plan_options_read_each_plans_price():
    factories.plan("pro", amount=2900)
    factories.plan("enterprise", amount=9900)
    options = {option.slug: option for option in plan_options()}
    assert (options["pro"].amount, options["pro"].currency, options["pro"].interval) == (
        2900,
        "usd",
        "month",
    )
    assert options["enterprise"].daily_cost() > options["pro"].daily_cost()


def test_a_scheduled_downgrade_is_shown_until_its_phase_starts(user):
    pro = factories.plan("pro", amount=2900)
    enterprise = factories.plan("enterprise", amount=9900)
    subscription = factories.subscription(user=user, plan=enterprise)
    schedule_of(subscription, pro.price_id)
    change = scheduled_change(subscription)
    assert change is not None and change.plan_name == "Pro"
    assert change.at == subscription_period(subscription, "current_period_end")

    # Once the phase started, the subscription's period begins there: nothing waits any more.
    later = factories.subscription(user=user, plan=pro, period_start=int(change.at.timestamp()))
    SubscriptionSchedule.objects.update(subscription=later)
    assert scheduled_change(later) is None


def test_released_schedules_and_same_plan_phases_change_nothing(user):
    pro = factories.plan("pro", amount=2900)
    enterprise = factories.plan("enterprise", amount=9900)
    released = factories.subscription(user=user, plan=enterprise)
    schedule_of(released, pro.price_id, status="released")
    assert scheduled_change(released) is None
    same = factories.subscription(user=user, plan=enterprise)
    schedule_of(same, enterprise.price_id)
    assert scheduled_change(same) is None


def test_a_metered_plan_is_changed_in_the_portal(stripe_fake, catalog, client, user):
    assert "usage" not in {option.slug for option in plan_options()}
    factories.stripe_subscription(user=user, plan=catalog["usage"])
    stripe_fake.deliver()
    client.force_login(user)
    page = client.get(reverse("billing:change_plan"))
    assert page.status_code == 200
    assert "change it in the billing portal" in page.content.decode()
