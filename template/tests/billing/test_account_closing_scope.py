"""Closing one account stops that account's billing only, in both billing modes: another
subscriber's subscription stays active at Stripe and keeps its access."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.billing.selectors import get_active_subscription

from .test_account_closing import PASSWORD, subscribe

pytestmark = pytest.mark.django_db


def test_closing_an_account_leaves_other_subscribers_billed(
    billing_stripe: Any, user: Any, other_user: Any
) -> None:
    _, kept_customer, kept = subscribe(billing_stripe, user)
    closing, closed_customer, closed = subscribe(billing_stripe, other_user)
    assert kept_customer != closed_customer

    response = closing.post(reverse("account_delete"), {"password": PASSWORD})
    assert response.status_code == 302
    billing_stripe.deliver()

    assert not get_user_model().objects.filter(pk=other_user.pk).exists()
    assert billing_stripe.fake.get(closed)["status"] == "canceled"
    assert billing_stripe.fake.get(kept)["status"] == "active"
    assert (billing_stripe.fake.get(kept_customer) or {}).get("deleted") is not True
    assert get_active_subscription(user) is not None
