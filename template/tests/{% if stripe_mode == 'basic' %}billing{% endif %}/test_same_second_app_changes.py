"""A change made in the app (cancel, resume, plan change) and a webhook of the same second:
Stripe's whole-second timestamps cannot order them, so the subscription is read from Stripe."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.billing.models import CHANGED_IN_APP, Subscription
from tests.stripe_events import encode, sign

from .test_plan_changes import subscribe

pytestmark = pytest.mark.django_db


def post_signed(event: dict[str, Any]) -> int:
    payload = encode(event)
    response = Client().post(
        reverse("billing:webhook"),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload),
    )
    return response.status_code


def test_a_late_cancel_event_of_the_resume_second_does_not_cancel_again(
    billing_stripe, client, user, django_capture_on_commit_callbacks
):
    client.force_login(user)
    subscription_id = subscribe(billing_stripe, client)
    billing_stripe.deliver()
    assert client.post(reverse("billing:cancel")).status_code == 302
    cancel_event = billing_stripe.fake.events("customer.subscription.updated")[-1]
    assert cancel_event["data"]["object"]["cancel_at_period_end"] is True
    assert client.post(reverse("billing:resume")).status_code == 302
    row = Subscription.objects.get(stripe_subscription_id=subscription_id)
    assert row.last_event_type == CHANGED_IN_APP and not row.cancel_at_period_end
    # The cancel's webhook comes after the resume and carries the resume's second.
    Subscription.objects.filter(pk=row.pk).update(
        last_event_at=row.last_event_at.fromtimestamp(
            cancel_event["created"], row.last_event_at.tzinfo
        )
    )

    with django_capture_on_commit_callbacks(execute=True):  # the queued processing runs
        assert post_signed(cancel_event) == 200

    row.refresh_from_db()
    assert row.cancel_at_period_end is False, "the resumed subscription was canceled again"
    assert row.status == "active"
