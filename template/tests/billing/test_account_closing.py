"""Closing an account stops its billing at Stripe first, in both billing modes: from the
self-service page (password required) and from the admin; Stripe unreachable leaves the user
inactive and flagged until `accounts_close_pending` finishes."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from apps.billing.selectors import stripe_customer_id_of

from .test_checkout_lifecycle import pay

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def subscribe(billing_stripe: Any, user: Any) -> tuple[Client, str, str]:
    """A signed-in client of `user`, who pays for a plan; (client, customer id, subscription id)."""
    client = Client()
    client.force_login(user)
    client.get(pay(billing_stripe, client))
    billing_stripe.deliver()
    customer = stripe_customer_id_of(user)
    subscription = billing_stripe.fake.events("customer.subscription.created")[-1]
    return client, str(customer), subscription["data"]["object"]["id"]


def test_wrong_password_changes_nothing(billing_stripe, user):
    client, customer, subscription = subscribe(billing_stripe, user)
    page = client.post(reverse("account_delete"), {"password": "not my password"})
    assert page.status_code == 200
    assert "password is not right" in page.content.decode()
    user.refresh_from_db()
    assert user.is_active and user.closing_since is None
    assert billing_stripe.fake.get(subscription)["status"] == "active"


def test_deleting_the_account_cancels_billing_then_deletes(billing_stripe, user):
    client, customer, subscription = subscribe(billing_stripe, user)
    assert client.get(reverse("account_delete")).status_code == 200

    response = client.post(reverse("account_delete"), {"password": PASSWORD})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert billing_stripe.fake.get(subscription)["status"] == "canceled"
    assert (billing_stripe.fake.get(customer) or {"deleted": True}).get("deleted") is True
    # The webhooks Stripe sends about it are accepted and change nothing for anyone else.
    billing_stripe.deliver()
    # Signed out: the account is gone.
    assert client.get(reverse("dashboard")).status_code == 302


def test_stripe_unreachable_keeps_the_user_flagged_for_a_retry(billing_stripe, user, monkeypatch):
    client, customer, subscription = subscribe(billing_stripe, user)
    with monkeypatch.context() as offline:
        offline.setattr(stripe, "api_base", "http://127.0.0.1:9")
        offline.setattr(stripe, "max_network_retries", 0)
        client.post(reverse("account_delete"), {"password": PASSWORD})
    user.refresh_from_db()
    assert user.closing_since is not None and not user.is_active  # cannot log in
    assert billing_stripe.fake.get(subscription)["status"] == "active"
    assert not Client().login(email=user.email, password=PASSWORD)

    call_command("accounts_close_pending")
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert billing_stripe.fake.get(subscription)["status"] == "canceled"


def test_deleting_a_user_in_the_admin_cancels_their_billing(
    billing_stripe, user, django_user_model
):
    _, customer, subscription = subscribe(billing_stripe, user)
    admin = django_user_model.objects.create_superuser(email="root@example.com", password="pw")
    staff = Client()
    staff.force_login(admin)
    url = reverse("admin:accounts_user_delete", args=[user.pk])
    response = staff.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert billing_stripe.fake.get(subscription)["status"] == "canceled"
