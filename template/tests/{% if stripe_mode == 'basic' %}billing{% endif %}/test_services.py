from __future__ import annotations

from unittest.mock import MagicMock, patch

import pytest

from apps.billing.errors import NoStripeCustomerError
from apps.billing.models import StripeCustomer
from apps.billing.stripe_api import StripeNotConfiguredError
from apps.billing.utils import create_checkout_session, get_customer_portal_url


# The documented unit test, as written.
@pytest.mark.django_db
def test_create_checkout_session(user):
    """Test creating a checkout session."""
    with patch("stripe.checkout.Session.create") as mock_create:
        mock_create.return_value = MagicMock(
            id="cs_test_123", url="https://checkout.stripe.com/c/pay/cs_test_123"
        )

        session = create_checkout_session(
            user=user,
            price_id="price_123",
            success_url="https://example.com/success/",
            cancel_url="https://example.com/cancel/",
        )

        assert session.id == "cs_test_123"
        assert "checkout.stripe.com" in session.url


@pytest.mark.django_db
def test_checkout_for_a_new_customer_lets_checkout_create_the_customer(user, settings):
    with patch("stripe.checkout.Session.create") as mock_create:
        create_checkout_session(
            user=user,
            price_id="price_test_123",
            success_url="https://example.com/s/",
            cancel_url="https://example.com/c/",
            metadata={"plan_slug": "pro"},
        )
    params = mock_create.call_args.kwargs
    assert params["mode"] == "subscription"
    assert params["customer_email"] == "alice@example.com"
    assert "customer" not in params
    assert params["client_reference_id"] == str(user.pk)
    assert params["line_items"] == [{"price": "price_test_123", "quantity": 1}]
    assert params["subscription_data"]["metadata"] == {"plan_slug": "pro", "user_id": str(user.pk)}
    assert "trial_period_days" not in params["subscription_data"]
    assert params["api_key"] == settings.STRIPE_SECRET_KEY
    assert params["stripe_version"] == settings.STRIPE_API_VERSION
    assert not StripeCustomer.objects.exists()  # linked later, by the webhook


@pytest.mark.django_db
def test_checkout_reuses_the_linked_customer_and_applies_the_trial(user, customer, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    user.refresh_from_db()
    with patch("stripe.checkout.Session.create") as mock_create:
        create_checkout_session(
            user=user,
            price_id="price_test_123",
            success_url="https://e.x/s",
            cancel_url="https://e.x/c",
        )
    params = mock_create.call_args.kwargs
    assert params["customer"] == "cus_Rtestcustomer001"
    assert "customer_email" not in params
    assert params["subscription_data"]["trial_period_days"] == 14


@pytest.mark.django_db
def test_checkout_without_a_secret_key_raises_a_clear_error(user, settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(StripeNotConfiguredError, match="set STRIPE_SECRET_KEY"):
        create_checkout_session(
            user=user,
            price_id="price_test_123",
            success_url="https://e.x",
            cancel_url="https://e.x",
        )


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["user", "customer id"])
def test_portal_url_for_a_user_or_a_customer_id(user, customer, by):
    user.refresh_from_db()
    target = user if by == "user" else customer.stripe_customer_id
    with patch("stripe.billing_portal.Session.create") as create:
        create.return_value = MagicMock(url="https://billing.stripe.com/p/session/x")
        url = get_customer_portal_url(target, "https://e.x/back")
    assert url == "https://billing.stripe.com/p/session/x"
    assert create.call_args.kwargs["customer"] == customer.stripe_customer_id
    assert create.call_args.kwargs["return_url"] == "https://e.x/back"


@pytest.mark.django_db
def test_portal_url_for_a_user_without_a_customer_raises(user):
    with (
        patch("stripe.billing_portal.Session.create") as create,
        pytest.raises(NoStripeCustomerError),
    ):
        get_customer_portal_url(user, "https://e.x/back")
    create.assert_not_called()
