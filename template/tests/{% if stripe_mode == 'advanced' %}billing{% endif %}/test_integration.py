"""End to end against the offline Stripe: pricing → checkout (hosted page, card 4242) →
signed webhooks at /djstripe/webhook/ → dj-stripe sync → receivers → gated views; then
usage limits, metered billing, a failed renewal, a paid renewal and a cancellation."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import stripe
from django.core import mail
from djstripe.models import Event

from apps.billing.emails import BillingEmail
from apps.billing.metering import flush_usage
from apps.billing.models import Subscription, SubscriptionMetadata
from apps.billing.usage import current_usage
from apps.billing.utils import get_active_subscription

from . import factories

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.billing.urls")]
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def post_event(post_webhook):
    """Deliver one event of the offline Stripe now, signed as Stripe signs it; it is applied."""
    return lambda event: post_webhook(json.dumps(event).encode()).status_code


def subscribe(client, stripe_fake, plan):
    """Click Subscribe, pay on Stripe's hosted page with 4242, let Stripe's webhooks in."""
    response = client.post("/billing/checkout/", {"price_id": plan.stripe_price_id})
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(stripe_fake.url + "/c/pay/cs_")
    form = stripe_fake.page(location)
    assert form.status == 200 and "4242 4242 4242 4242" in form.text
    paid = stripe_fake.submit_checkout(location, "4242424242424242")
    assert paid.status == 303
    assert urlsplit(paid.location).path == "/billing/success/"
    stripe_fake.deliver()
    return client.get(paid.location)


@pytest.fixture
def subscriber(client, user, stripe_fake, catalog):
    client.force_login(user)
    subscribe(client, stripe_fake, catalog["pro"])
    return get_active_subscription(user)


@pytest.mark.django_db
class TestStripeIntegration:
    def test_full_subscription_flow(self, client, user, stripe_fake, catalog):
        """Test complete subscription flow (as documented, with the offline Stripe)."""
        client.force_login(user)

        # 1. Visit pricing page
        response = client.get("/billing/pricing/")
        assert response.status_code == 200

        # 2. Create checkout session
        response = client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
        assert response.status_code == 302  # Redirect to Stripe

        # 3. Pay on Stripe's page; Stripe's webhooks (subscription created, ...) arrive signed
        assert stripe_fake.submit_checkout(response["Location"]).status == 303
        stripe_fake.deliver()

        # 4. Check subscription is active
        subscription = get_active_subscription(user)
        assert subscription is not None
        assert subscription.status == "active"


def test_checkout_syncs_the_subscription_and_opens_the_gates(
    client, user, subscriber, catalog, stripe_fake
):
    assert subscriber.plan.product.name == "Pro"
    assert subscriber.current_period_end is not None
    assert subscriber.customer.subscriber == user
    metadata = SubscriptionMetadata.objects.get(subscription=subscriber)
    assert metadata.plan == catalog["pro"]
    assert metadata.features == catalog["pro"].features
    assert metadata.usage_limits == catalog["pro"].limits
    assert Event.objects.filter(type="checkout.session.completed").exists()
    assert user.has_active_subscription
    assert client.get("/examples/premium/").status_code == 200
    assert client.get("/examples/pro/").status_code == 200
    assert client.get("/examples/analytics/").status_code == 200
    sessions = stripe.checkout.Session.list(
        customer=subscriber.customer_id, api_key=stripe_fake.api_key
    )
    page = client.get(f"/billing/success/?session_id={sessions.data[0].id}").content.decode()
    assert "Your <strong>Pro</strong> subscription is ready" in page and ">Active<" in page
    assert mail.outbox == []


def test_usage_limit_answers_429_past_the_limit(client, subscriber):
    assert [client.get("/api/three/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert current_usage(subscriber, "api_calls") == 3


def test_metered_plan_usage_is_billed_at_renewal(client, user, stripe_fake, catalog):
    client.force_login(user)
    subscribe(client, stripe_fake, catalog["usage"])
    subscription = get_active_subscription(user)
    assert [client.get("/api/plan-limited/").status_code for _ in range(7)] == [200] * 7
    assert flush_usage().sent == 1
    stripe_fake.advance(days=31)
    stripe_fake.deliver()
    invoices = stripe.Invoice.list(customer=subscription.customer_id, api_key=stripe_fake.api_key)
    renewal = invoices.data[0]
    assert renewal.billing_reason == "subscription_cycle"
    usage_line = next(
        line
        for line in renewal.lines.data
        if line.pricing.price_details.price == catalog["usage"].metered_price_id
    )
    assert usage_line.quantity == 7
    # The paid renewal started a new usage period.
    assert current_usage(get_active_subscription(user), "api_calls") == 0


def test_a_paid_renewal_resets_usage(client, user, subscriber, stripe_fake):
    assert client.get("/api/three/").status_code == 200
    period_start = subscriber.billing_metadata.usage_period_start
    stripe_fake.advance(days=31)
    stripe_fake.deliver()
    renewed = get_active_subscription(user)
    assert renewed.billing_metadata.usage_period_start > period_start
    assert current_usage(renewed, "api_calls") == 0
    assert [client.get("/api/three/").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_renewal_paid_out_of_band_resets_usage(client, user, subscriber, stripe_fake):
    """An invoice marked paid outside Stripe sends invoice.paid and no payment_succeeded."""
    assert [client.get("/api/three/").status_code for _ in range(3)] == [200] * 3
    factories.fail_next_payments(subscriber.customer_id)
    stripe_fake.advance(days=31)
    stripe_fake.deliver()
    assert current_usage(get_active_subscription(user), "api_calls") == 3  # not paid: same period
    renewal = stripe_fake.events("invoice.payment_failed")[-1]["data"]["object"]

    stripe.Invoice.pay(renewal["id"], paid_out_of_band=True, api_key=stripe_fake.api_key)
    paid_events = [
        event["type"]
        for event in stripe_fake.events()
        if event["type"].startswith("invoice.")
        and event["data"]["object"]["id"] == renewal["id"]
        and event["data"]["object"]["status"] == "paid"
    ]
    assert paid_events == ["invoice.paid"]
    stripe_fake.deliver()

    renewed = get_active_subscription(user)
    assert renewed.status == "active"
    assert renewed.billing_metadata.usage_period_start.timestamp() == renewal["period_end"]
    assert current_usage(renewed, "api_calls") == 0


@pytest.mark.parametrize("first", ["invoice.paid", "invoice.payment_succeeded"])
def test_a_paid_renewal_starts_one_new_period_whichever_event_comes_first(
    client, user, subscriber, stripe_fake, post_event, first
):
    stripe_fake.hold()
    stripe_fake.advance(days=31)  # the renewal is charged: both events are sent
    second = "invoice.payment_succeeded" if first == "invoice.paid" else "invoice.paid"
    assert post_event(stripe_fake.events(first)[-1]) == 200
    assert current_usage(get_active_subscription(user), "api_calls") == 0
    assert client.get("/api/three/").status_code == 200  # used in the new period

    assert post_event(stripe_fake.events(second)[-1]) == 200
    stripe_fake.release()
    stripe_fake.deliver()
    assert current_usage(get_active_subscription(user), "api_calls") == 1  # not reset again


@pytest.mark.parametrize("past_due_access", [True, False])
def test_a_failed_renewal_emails_once_and_past_due_access_follows_the_setting(
    client, settings, user, subscriber, stripe_fake, past_due_access
):
    settings.BILLING_PAST_DUE_ACCESS = past_due_access
    factories.fail_next_payments(subscriber.customer_id)
    stripe_fake.duplicate_next(3)  # Stripe may deliver an event more than once
    stripe_fake.advance(days=31)
    stripe_fake.deliver()

    failed_events = stripe_fake.events("invoice.payment_failed")
    assert len(failed_events) == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [user.email]
    assert "Payment failed" in email.subject
    invoice = failed_events[0]["data"]["object"]
    assert invoice["hosted_invoice_url"] in email.body
    assert "$29.00" in email.body
    assert BillingEmail.objects.get(kind=BillingEmail.Kind.PAYMENT_FAILED).sent_at is not None
    assert Subscription.objects.get(id=subscriber.id).status == "past_due"
    # Stripe is retrying: access continues by default (the email says so), or ends at once.
    assert (get_active_subscription(user) is not None) is past_due_access
    expected = 200 if past_due_access else 403
    assert client.get("/examples/premium/", **JSON).status_code == expected

    # Stripe's next retry fails too: a new event, a new email.
    stripe_fake.advance(days=3)
    stripe_fake.deliver()
    assert len(stripe_fake.events("invoice.payment_failed")) == 2
    assert len(mail.outbox) == 2


def test_canceling_in_the_portal_revokes_access(client, user, subscriber, stripe_fake):
    response = client.post("/billing/portal/")
    portal = response["Location"]
    assert portal.startswith(stripe_fake.url + "/p/session/")
    canceled = stripe_fake.page(f"{portal}/subscriptions/{subscriber.id}/cancel", {})
    assert canceled.status == 303
    stripe_fake.deliver()
    assert get_active_subscription(user) is not None  # canceled at the period's end
    stripe_fake.advance(days=32)
    stripe_fake.deliver()
    assert Event.objects.filter(type="customer.subscription.deleted").exists()
    assert get_active_subscription(user) is None
    assert not user.has_active_subscription
    assert client.get("/examples/premium/").status_code == 302
    assert client.get("/api/three/").status_code == 403


def test_immediate_cancellation_revokes_access(client, user, subscriber, stripe_fake):
    stripe.Subscription.cancel(subscriber.id, api_key=stripe_fake.api_key)
    stripe_fake.deliver()
    assert get_active_subscription(user) is None
    assert client.get("/examples/pro/", **JSON).status_code == 403


@pytest.mark.parametrize("order", ["reverse", "shuffle"])
def test_duplicated_and_reordered_webhooks_have_one_effect(
    client, user, stripe_fake, catalog, order
):
    client.force_login(user)
    stripe_fake.reorder(order, seed=7)
    stripe_fake.duplicate_next(50)
    subscribe(client, stripe_fake, catalog["pro"])
    subscription = get_active_subscription(user)
    assert subscription is not None and subscription.status == "active"
    assert SubscriptionMetadata.objects.count() == 1
    event_ids = list(Event.objects.values_list("id", flat=True))
    # Each event delivered (every one twice) is stored once.
    assert len(event_ids) == len(set(event_ids))
    assert set(event_ids) == stripe_fake.delivered_event_ids()
