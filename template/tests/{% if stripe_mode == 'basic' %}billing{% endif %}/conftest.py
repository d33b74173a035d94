from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from apps.billing import batching
from apps.billing.models import StripeCustomer, Subscription, WebhookEvent
from config.celery import app as celery_app
from fakestripe import FakeStripe
from tests.fuzzing import WebhookTarget
from tests.offline_billing import BillingStripe, TeamPlans

from .harness import Offline, TaskQueue, start_offline

TEST_PLANS = [
    {
        "slug": "pro",
        "name": "Pro",
        "price_id": "price_test_123",
        "amount": 2900,
        "features": {"api_access": True, "advanced_analytics": True},
        "limits": {"api_calls": 10000},
        "is_popular": True,
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
        "price_id": "price_test_enterprise",
        "amount": 9900,
        "features": {"api_access": True, "advanced_analytics": True, "priority_support": True},
        "limits": {"api_calls": 100000},
    },
]


@pytest.fixture(autouse=True)
def offline_stripe_api(fake_stripe: FakeStripe) -> Iterator[FakeStripe]:
    """Every Stripe call of these tests goes to the offline Stripe (a fresh one per test), never
    to api.stripe.com: the test key's calls (a customer made before checkout, ...) get real
    answers, and the documented tests that patch one call still run as written."""
    fake_stripe.reset()
    with fake_stripe.stripe_module(stripe, set_api_key=False, max_network_retries=0):
        yield fake_stripe


@pytest.fixture
def offline(offline_stripe_api: FakeStripe, settings: Any, client: Any, user: Any) -> Offline:
    """The offline Stripe with the Pro and Enterprise plans, delivering its webhooks to
    /billing/webhook/; the test client is logged in as `user`."""
    client.force_login(user)
    return start_offline(offline_stripe_api, settings, client)


@pytest.fixture
def billing_stripe(
    offline_stripe_api: FakeStripe, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> BillingStripe:
    """The offline Stripe for the tests both modes share (Pro is the plan they buy)."""
    offline = start_offline(offline_stripe_api, settings, Client())
    monkeypatch.setattr(stripe, "api_key", offline_stripe_api.api_key)
    return BillingStripe(offline_stripe_api, offline.pro, offline.deliver)


@pytest.fixture
def team_plans(billing_stripe: BillingStripe, settings: Any) -> TeamPlans:
    """Team (per seat) and Small team (at most 3 members) added to the offline Stripe's plans
    (the same fixture exists in advanced mode, for the team tests both modes share)."""
    plans = TeamPlans(seat_price_id="", small_price_id="")
    prices = {}
    for name, amount in (("Team", plans.seat_amount), ("Small team", 4900)):
        prices[name] = stripe.Price.create(
            product_data={"name": name},
            unit_amount=amount,
            currency="usd",
            recurring={"interval": "month"},
            api_key=billing_stripe.fake.api_key,
        ).id
    settings.BILLING_PLANS = [
        *settings.BILLING_PLANS,
        {
            "slug": "team",
            "name": "Team",
            "price_id": prices["Team"],
            "amount": plans.seat_amount,
            "features": {"api_access": True},
            "per_seat": True,
        },
        {
            "slug": "small-team",
            "name": "Small team",
            "price_id": prices["Small team"],
            "amount": 4900,
            "limits": {"team_members": plans.small_cap},
        },
    ]
    return TeamPlans(seat_price_id=prices["Team"], small_price_id=prices["Small team"])


@pytest.fixture(autouse=True)
def billing_plans(settings: Any) -> list[dict[str, Any]]:
    settings.BILLING_PLANS = TEST_PLANS
    settings.BILLING_TRIAL_PERIOD_DAYS = 0
    return TEST_PLANS


@pytest.fixture
def customer(user: Any) -> StripeCustomer:
    return StripeCustomer.objects.create(user=user, stripe_customer_id="cus_Rtestcustomer001")


@pytest.fixture
def make_subscription(customer: StripeCustomer) -> Any:
    def make(
        status: str = "active", price_id: str = "price_test_123", **extra: Any
    ) -> Subscription:
        return Subscription.objects.create(
            customer=customer,
            stripe_subscription_id=extra.pop("stripe_subscription_id", f"sub_test_{status}"),
            status=status,
            price_id=price_id,
            plan_name="Pro",
            **extra,
        )

    return make


@pytest.fixture
def subscribe(make_subscription: Any) -> Any:
    """`subscribe(plan_slug, status=...)`: a subscription of `user` to that plan of TEST_PLANS
    (the same fixture exists in advanced mode, for the tests both modes share)."""

    def make(plan: str = "pro", *, status: str = "active") -> Subscription:
        price_id = next(p["price_id"] for p in TEST_PLANS if p["slug"] == plan)
        return make_subscription(
            status=status, price_id=price_id, stripe_subscription_id=f"sub_{plan}_{status}"
        )

    return make


@pytest.fixture
def webhook_target(settings: Any) -> WebhookTarget:
    """/billing/webhook/: every delivery it keeps is a WebhookEvent row."""
    return WebhookTarget(
        url=reverse("billing:webhook"),
        secret=settings.STRIPE_WEBHOOK_SECRET,
        stored=WebhookEvent.objects.count,
    )


@pytest.fixture
def task_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[TaskQueue]:
    """Tasks are queued, as with a real broker (here Celery's in-memory one), instead of running
    in-process: the test takes them off the queue and runs them, as workers would. Each stored
    event is sent in a message of its own, so what a test takes does not depend on timing
    (tests/billing/test_batching.py tests the batches)."""
    monkeypatch.setattr(batching, "BATCH_SIZE", 1)
    celery_app.conf.task_always_eager = False
    queue = TaskQueue()
    queue.take()  # what other tests left queued
    try:
        yield queue
    finally:
        celery_app.conf.task_always_eager = True
        queue.take()  # nothing is left for the next test
