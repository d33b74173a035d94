"""Billing end to end against the offline Stripe (fakestripe): real HTTP to a stateful Stripe
at the pinned API version, its hosted Checkout and portal pages, and webhooks signed with a
real HMAC, delivered to the project's endpoint through the Django test client."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import stripe
from django.core import mail
from django.urls import reverse

from apps.billing.decorators import plan_required
from apps.billing.emails import BillingEmail
from apps.billing.models import StripeCustomer, Subscription, WebhookEvent
from apps.billing.selectors import cancels_at, get_customer, renews_at
from apps.billing.utils import get_active_subscription

from .harness import CARD_3DS_ALWAYS, CARD_DECLINED, CARD_FAILS_LATER

pytestmark = pytest.mark.django_db


def test_checkout_with_a_good_card_activates_the_subscription(offline, user):
    result = offline.subscribe()
    assert result.status == 303
    success = urlsplit(result.location)
    assert success.path == reverse("billing:success")
    assert success.query.startswith("session_id=cs_")

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
    # The customer was made before Checkout, and Checkout paid as that customer.
    assert user.stripe_customer.stripe_customer_id == subscription.customer.stripe_customer_id
    dashboard = offline.client.get(reverse("dashboard")).content.decode()
    assert "Your plan: Pro" in dashboard and "Active" in dashboard


def test_a_declined_card_creates_no_subscription(offline, user):
    result = offline.subscribe(card=CARD_DECLINED)
    assert result.status == 422
    assert "declined" in result.text.lower()
    offline.deliver()
    assert not Subscription.objects.exists()
    assert not user.has_active_subscription


def test_renewal_moves_the_period_and_records_the_payment(offline, user):
    offline.subscribe()
    offline.deliver()
    first = get_active_subscription(user)
    first_end, first_invoice = first.current_period_end, first.last_paid_invoice_id
    assert first_invoice.startswith("in_")

    offline.fake.advance(days=32)
    offline.deliver()
    subscription = get_active_subscription(user)
    assert subscription.current_period_end > first_end
    assert subscription.last_paid_invoice_id not in ("", first_invoice)
    paid = WebhookEvent.objects.filter(type="invoice.payment_succeeded")
    assert paid.count() == 2  # the first invoice and the renewal
    assert all(event.status == WebhookEvent.Status.PROCESSED for event in paid)


def fail_the_renewal(offline) -> Subscription:
    offline.subscribe()
    offline.deliver()
    offline.change_card(CARD_FAILS_LATER)
    offline.fake.duplicate_next(10)  # Stripe may deliver any event twice
    offline.fake.advance(days=32)
    offline.deliver()
    return Subscription.objects.get()


def test_a_failed_renewal_emails_the_customer_once_and_keeps_access_while_stripe_retries(
    offline, user
):
    subscription = fail_the_renewal(offline)
    failed = [m for m in mail.outbox if "Payment failed" in m.subject]
    assert len(failed) == 1
    assert failed[0].to == [user.email]
    assert offline.fake.url + "/i/in_" in failed[0].body  # the hosted invoice page, to pay again
    assert "$29.00" in failed[0].body
    assert subscription.status == "past_due"
    assert user.has_active_subscription  # BILLING_PAST_DUE_ACCESS is on by default


def test_past_due_ends_access_when_the_setting_is_off(offline, user, settings):
    settings.BILLING_PAST_DUE_ACCESS = False
    assert fail_the_renewal(offline).status == "past_due"
    assert not user.has_active_subscription


def test_an_invoice_paid_out_of_band_starts_the_new_period(offline, user):
    subscription = fail_the_renewal(offline)
    invoice = offline.fake.events("invoice.payment_failed")[-1]["data"]["object"]
    stripe.Invoice.pay(invoice["id"], paid_out_of_band=True, api_key=offline.fake.api_key)
    offline.deliver()

    assert not WebhookEvent.objects.filter(
        type="invoice.payment_succeeded", payload__data__object__id=invoice["id"]
    ).exists()  # Stripe sends invoice.paid alone for these
    subscription.refresh_from_db()
    assert subscription.last_paid_invoice_id == invoice["id"]
    assert subscription.status == "active"


def test_a_renewal_that_needs_3d_secure_emails_the_confirmation_link_once(offline, user):
    offline.subscribe()
    offline.deliver()
    offline.change_card(CARD_3DS_ALWAYS)
    offline.fake.duplicate_next(10)
    offline.fake.advance(days=32)
    offline.deliver()

    [email] = BillingEmail.objects.filter(kind=BillingEmail.Kind.PAYMENT_ACTION_REQUIRED)
    [message] = [m for m in mail.outbox if m.subject == email.subject]
    assert message.to == [user.email]
    invoice = offline.fake.events("invoice.payment_action_required")[-1]["data"]["object"]
    assert invoice["hosted_invoice_url"] in message.body


def test_a_portal_cancellation_keeps_access_until_the_period_ends(offline, user):
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
    # Flexible billing mode: the portal sets cancel_at to the period end, not the flag.
    assert subscription.cancel_at == subscription.current_period_end
    assert cancels_at(subscription) == subscription.current_period_end
    assert renews_at(subscription) is None
    assert user.has_active_subscription  # paid until the end of the period
    billing = offline.client.get(reverse("billing:subscription")).content.decode()
    assert "Cancels on" in billing and "Renews" not in billing

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


def test_a_plan_with_an_add_on_is_found_whatever_the_item_order(offline, user):
    addon = stripe.Price.create(
        product_data={"name": "Extra seats"},
        unit_amount=500,
        currency="usd",
        recurring={"interval": "month"},
        api_key=offline.fake.api_key,
    )
    offline.subscribe()
    offline.deliver()
    subscription = get_active_subscription(user)
    stripe.SubscriptionItem.create(
        subscription=subscription.stripe_subscription_id,
        price=addon.id,
        quantity=3,
        api_key=offline.fake.api_key,
    )
    offline.deliver()
    subscription.refresh_from_db()
    assert subscription.plan.slug == "pro"

    customer = StripeCustomer.objects.get(user=user).stripe_customer_id
    second = stripe.Subscription.create(
        customer=customer,
        items=[{"price": addon.id, "quantity": 2}, {"price": offline.enterprise}],
        default_payment_method="pm_card_visa",
        api_key=offline.fake.api_key,
    )
    offline.deliver()
    assert Subscription.objects.get(stripe_subscription_id=second.id).plan.slug == "enterprise"


def test_a_trial_starts_trialing_reminds_once_and_converts(offline, user, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    offline.subscribe()
    offline.deliver()
    subscription = get_active_subscription(user)
    assert subscription.status == "trialing" and subscription.trial_end is not None

    offline.fake.duplicate_next(10)
    offline.fake.advance(days=12)  # Stripe warns 3 days before the trial ends
    offline.deliver()
    [reminder] = [m for m in mail.outbox if "trial" in m.subject.lower()]
    assert reminder.to == [user.email]
    assert "http://testserver/billing/subscription/" in reminder.body

    offline.fake.advance(days=3)
    offline.deliver()
    subscription.refresh_from_db()
    assert subscription.status == "active"


def test_one_free_trial_per_customer(offline, user, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    offline.subscribe()
    offline.deliver()
    first = get_active_subscription(user)
    stripe.Subscription.cancel(first.stripe_subscription_id, api_key=offline.fake.api_key)
    offline.deliver()
    assert not user.has_active_subscription

    offline.subscribe()
    offline.deliver()
    second = get_active_subscription(user)
    assert second.stripe_subscription_id != first.stripe_subscription_id
    assert (second.status, second.trial_end) == ("active", None)


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


def test_two_checkout_tabs_never_both_pay(offline, user):
    first_tab = offline.checkout()
    second_tab = offline.checkout()
    assert offline.fake.submit_checkout(first_tab).status != 303  # expired by the second
    assert offline.fake.submit_checkout(second_tab).status == 303
    offline.deliver()
    assert Subscription.objects.count() == 1
    assert len(offline.fake.events("customer.subscription.created")) == 1


def test_a_customer_deleted_at_stripe_unlinks_and_the_user_subscribes_again(offline, user):
    offline.subscribe()
    offline.deliver()
    old = StripeCustomer.objects.get(user=user).stripe_customer_id
    stripe.Customer.delete(old, api_key=offline.fake.api_key)
    offline.deliver()  # customer.subscription.deleted, then customer.deleted

    fresh = type(user).objects.get(pk=user.pk)
    assert get_customer(fresh) is None
    assert not fresh.has_active_subscription
    assert not WebhookEvent.objects.filter(status__in=["failed", "deferred"]).exists()

    offline.subscribe()
    offline.deliver()
    new = StripeCustomer.objects.get(user=user).stripe_customer_id
    assert new != old
    assert get_active_subscription(fresh).customer.stripe_customer_id == new
