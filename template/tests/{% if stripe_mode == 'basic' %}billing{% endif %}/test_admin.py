"""The billing admin (basic mode): what staff see and can do."""

from __future__ import annotations

import pytest
from django.core import mail

from apps.billing.emails import BillingEmail
from apps.billing.models import StripeCustomer, Subscription

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/billing/subscription/"


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(email="staff@example.com", password="pw")
    client.force_login(admin)
    return client


def test_staff_can_list_customers_with_more_than_one_live_subscription(
    staff_client, make_subscription, other_user
):
    make_subscription(status="active", stripe_subscription_id="sub_first")
    make_subscription(status="past_due", stripe_subscription_id="sub_second")
    make_subscription(status="canceled", stripe_subscription_id="sub_ended")
    other = StripeCustomer.objects.create(user=other_user, stripe_customer_id="cus_Single")
    Subscription.objects.create(
        customer=other, stripe_subscription_id="sub_single", status="active"
    )

    everything = staff_client.get(CHANGELIST).content.decode()
    assert "more than one live subscription" in everything
    html = staff_client.get(CHANGELIST, {"several_live": "yes"}).content.decode()
    assert "sub_first" in html and "sub_second" in html
    assert "sub_ended" not in html and "sub_single" not in html


def test_the_customer_list_filters_unlinked_customers(staff_client, customer, other_user):
    from apps.billing.services import forget_customer

    StripeCustomer.objects.create(user=other_user, stripe_customer_id="cus_StillLinked")
    forget_customer(customer.stripe_customer_id)
    html = staff_client.get("/admin/billing/stripecustomer/", {"unlinked_at__isempty": "0"})
    assert b"cus_Rtestcustomer001" in html.content
    assert b"cus_StillLinked" not in html.content


def test_staff_can_send_a_pending_billing_email(staff_client):
    email = BillingEmail.objects.create(
        stripe_event_id="evt_pending",
        kind=BillingEmail.Kind.PAYMENT_FAILED,
        email="alice@example.com",
        subject="Payment failed",
        body="Please update your card.",
    )
    response = staff_client.post(
        "/admin/billing/billingemail/",
        {"action": "send_now", "_selected_action": [email.pk]},
    )
    assert response.status_code == 302
    staff_client.post(
        "/admin/billing/billingemail/", {"action": "send_now", "_selected_action": [email.pk]}
    )
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.sent_at is not None
