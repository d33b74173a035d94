"""Billing end to end against the offline Stripe (fakestripe): real HTTP to a stateful Stripe
at the pinned API version, its hosted Checkout and portal pages, and webhooks signed with a
real HMAC, delivered to the project's endpoint through the Django test client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.billing.decorators import plan_required
from apps.billing.models import Subscription, WebhookEvent
from apps.billing.utils import get_active_subscription
from fakestripe import FakeStripe

pytestmark = pytest.mark.django_db
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"
CARD_FAILS_LATER = "4000 0000 0000 0341"  # attaches, every later charge declines


@dataclass
class Offline:
    fake: FakeStripe
    client: Client
    pro: str
    enterprise: str

    def deliver(self) -> list[int]:
        """Deliver every queued event to /billing/webhook/; all must be accepted."""
        statuses = [delivery.status for delivery in self.fake.deliver()]
        assert all(status == 200 for status in statuses), statuses
        return statuses

    def subscribe(self, card: str = CARD_OK) -> Any:
        """Pricing → checkout → the hosted page with `card` → back to the success page."""
        response = self.client.post(reverse("billing:checkout"), {"price_id": self.pro})
        assert response.status_code == 302
        assert response["Location"].startswith(self.fake.url + "/c/pay/cs_")
        return self.fake.submit_checkout(response["Location"], card)

    def portal(self) -> str:
        """Open the customer portal from the project, as the user would."""
        response = self.client.post(reverse("billing:customer_portal"))
        assert response.status_code == 302
        assert response["Location"].startswith(self.fake.url + "/p/session/")
        return urlsplit(response["Location"]).path


@pytest.fixture
def offline(fake_stripe: FakeStripe, settings: Any, client: Client, user: Any) -> Iterator[Offline]:
    fake_stripe.reset()
    with fake_stripe.stripe_module(stripe, set_api_key=False):
        settings.STRIPE_SECRET_KEY = fake_stripe.api_key
        key = {"api_key": fake_stripe.api_key}
        pro = stripe.Price.create(
            product_data={"name": "Pro"},
            unit_amount=2900,
            currency="usd",
            recurring={"interval": "month"},
            **key,
        )
        enterprise = stripe.Price.create(
            product_data={"name": "Enterprise"},
            unit_amount=9900,
            currency="usd",
            recurring={"interval": "month"},
            **key,
        )
        settings.BILLING_PLANS = [
            {"slug": "pro", "name": "Pro", "price_id": pro.id, "amount": 2900},
            {"slug": "enterprise", "name": "Enterprise", "price_id": enterprise.id, "amount": 9900},
        ]
        webhook_client = Client()

        def to_webhook(body: bytes, headers: dict[str, str]) -> int:
            return webhook_client.post(
                "/billing/webhook/",
                data=body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
            ).status_code

        settings.STRIPE_WEBHOOK_SECRET = fake_stripe.add_listener(to_webhook)
        client.force_login(user)
        yield Offline(fake_stripe, client, pro.id, enterprise.id)
        fake_stripe.remove_listener(settings.STRIPE_WEBHOOK_SECRET)


def test_checkout_with_a_good_card_activates_the_subscription(offline, user):
    result = offline.subscribe()
    assert result.status == 303
    success = urlsplit(result.location)
    assert success.path == reverse("billing:success")
    assert success.query.startswith("session_id=cs_")

    # Back from Stripe, before the webhooks: the redirect alone grants nothing.
    assert "being confirmed" in offline.client.get(result.location).content.decode()
    assert not user.has_active_subscription

    offline.deliver()
    subscription = get_active_subscription(user)
    assert subscription is not None
    assert (subscription.status, subscription.plan.slug, subscription.price_id) == (
        "active",
        "pro",
        offline.pro,
    )
    # Periods come from the subscription item (API 2025-03-31+).
    item = offline.fake.get(subscription.stripe_subscription_id)["items"]["data"][0]
    assert subscription.current_period_end.timestamp() == item["current_period_end"]
    assert user.stripe_customer.stripe_customer_id.startswith("cus_")
    dashboard = offline.client.get(reverse("dashboard")).content.decode()
    assert "Plan: Pro" in dashboard and "active" in dashboard


def test_a_declined_card_creates_no_subscription(offline, user):
    result = offline.subscribe(card=CARD_DECLINED)
    assert result.status == 422
    assert "declined" in result.text.lower()
    offline.fake.deliver()
    assert not Subscription.objects.exists()
    assert not user.has_active_subscription


def test_renewal_moves_the_period_and_records_the_payment(offline, user):
    offline.subscribe()
    offline.deliver()
    first_end = get_active_subscription(user).current_period_end

    offline.fake.advance(days=32)
    offline.deliver()
    subscription = get_active_subscription(user)
    assert subscription.current_period_end > first_end
    paid = WebhookEvent.objects.filter(type="invoice.payment_succeeded")
    assert paid.count() == 2  # the first invoice and the renewal
    assert all(event.status == WebhookEvent.Status.PROCESSED for event in paid)


def test_a_failed_renewal_emails_the_customer_once_and_ends_access(offline, user):
    offline.subscribe()
    offline.deliver()
    portal = offline.portal()
    changed = offline.fake.page(
        f"{portal}/payment_method",
        {"card_number": CARD_FAILS_LATER, "card_expiry": "12 / 34", "card_cvc": "123"},
    )
    assert changed.status == 303
    offline.deliver()

    offline.fake.duplicate_next(10)  # Stripe may deliver any event twice
    offline.fake.advance(days=32)
    offline.deliver()

    failed = [m for m in mail.outbox if "Payment failed" in m.subject]
    assert len(failed) == 1
    assert failed[0].to == [user.email]
    assert offline.fake.url in failed[0].body  # the hosted invoice page, to pay again
    subscription = Subscription.objects.get()
    assert subscription.status == "past_due"
    assert not user.has_active_subscription


def test_cancel_at_period_end_keeps_access_until_the_period_ends(offline, user):
    offline.subscribe()
    offline.deliver()
    subscription = get_active_subscription(user)
    portal = offline.portal()
    assert (
        offline.fake.page(
            f"{portal}/subscriptions/{subscription.stripe_subscription_id}/cancel", {}
        ).status
        == 303
    )
    offline.deliver()

    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is True
    assert user.has_active_subscription  # paid until the end of the period

    offline.fake.advance(days=32)
    offline.deliver()
    subscription.refresh_from_db()
    assert subscription.status == "canceled"
    assert not user.has_active_subscription


def test_a_plan_change_in_the_portal_updates_the_plan(offline, user, rf):
    offline.subscribe()
    offline.deliver()
    subscription = get_active_subscription(user)
    portal = offline.portal()
    changed = offline.fake.page(
        f"{portal}/subscriptions/{subscription.stripe_subscription_id}/update",
        {"price": offline.enterprise, "quantity": "1"},
    )
    assert changed.status == 303
    offline.deliver()

    subscription.refresh_from_db()
    assert subscription.plan.slug == "enterprise"

    @plan_required("enterprise")
    def enterprise_only(request):
        from django.http import HttpResponse

        return HttpResponse("welcome")

    request = rf.get("/enterprise/")
    request.user = user
    assert enterprise_only(request).content == b"welcome"


def test_a_trial_starts_trialing_and_converts(offline, user, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    offline.subscribe()
    offline.deliver()
    subscription = get_active_subscription(user)
    assert subscription.status == "trialing" and subscription.trial_end is not None

    offline.fake.advance(days=15)
    offline.deliver()
    subscription.refresh_from_db()
    assert subscription.status == "active"


def test_out_of_order_and_duplicate_deliveries_end_in_the_right_state(offline, user):
    offline.fake.hold()
    offline.subscribe()
    offline.fake.duplicate_next(20)
    offline.fake.release(order="reverse")  # checkout.session.completed first, created last
    offline.deliver()
    subscription = get_active_subscription(user)
    assert subscription is not None and subscription.status == "active"
    assert not WebhookEvent.objects.filter(status__in=["failed", "deferred"]).exists()
    ids = list(WebhookEvent.objects.values_list("stripe_event_id", flat=True))
    assert len(ids) == len(set(ids))


def test_the_portal_redirect_uses_the_linked_customer(offline, user):
    offline.subscribe()
    offline.deliver()
    page = offline.fake.page(offline.portal())
    assert page.status == 200
    assert "Pro" in page.text
