"""The documented integration test: pricing → checkout → webhooks → active subscription."""

from __future__ import annotations

import time
from unittest.mock import MagicMock, patch

import pytest
from django.test import TestCase

from tests.stripe_events import encode, load_fixture, make_event, sign


def deliver(client, event):
    """POST a signed event. The endpoint queues its processing once the request's writes are
    committed; inside a test's transaction, run what waited for that commit (the task runs
    in-process in tests) as it runs after a real request."""
    body = encode(event)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            "/billing/webhook/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body),
        )


@pytest.mark.django_db
class TestStripeIntegration:
    def test_full_subscription_flow(self, client, user):
        """Test complete subscription flow."""
        client.force_login(user)

        # 1. Visit pricing page
        response = client.get("/billing/pricing/")
        assert response.status_code == 200

        # 2. Create checkout session (the customer is made at the offline Stripe first; the
        #    session itself is answered here with the one Stripe would return, as the price of
        #    this test does not exist there)
        with patch("stripe.checkout.Session.create") as create:
            create.return_value = MagicMock(url="https://checkout.stripe.com/c/pay/cs_test_test")
            response = client.post("/billing/checkout/", {"price_id": "price_test_123"})
        assert response.status_code == 302  # Redirect to Stripe
        params = create.call_args.kwargs
        customer, metadata = params["customer"], params["subscription_data"]["metadata"]

        # 3. Simulate webhook (subscription created), signed like Stripe signs it; Stripe sends
        #    the subscription before checkout.session.completed, and it must not be lost.
        now = int(time.time())
        subscription = load_fixture("subscription", customer=customer, metadata=metadata)
        assert (
            deliver(
                client, make_event("customer.subscription.created", subscription, created=now)
            ).status_code
            == 200
        )
        session = load_fixture(
            "checkout_session", customer=customer, client_reference_id=str(user.pk)
        )
        assert (
            deliver(
                client, make_event("checkout.session.completed", session, created=now)
            ).status_code
            == 200
        )

        # 4. Check subscription is active
        from apps.billing.utils import get_active_subscription

        subscription = get_active_subscription(user)
        assert subscription is not None
        assert subscription.status == "active"
        assert client.get("/dashboard/").content.decode().count("Your plan:") == 1
