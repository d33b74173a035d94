"""The billing services against the offline Stripe: real HTTP, real answers, real errors."""

from __future__ import annotations

from unittest.mock import MagicMock, patch

import pytest
import stripe
from django.core import mail

from apps.billing.checkout_state import CheckoutOutcome
from apps.billing.errors import NoStripeCustomerError
from apps.billing.models import StripeCustomer, Subscription
from apps.billing.services import (
    close_billing_account,
    confirm_checkout_session,
    forget_customer,
    get_or_create_customer,
)
from apps.billing.stripe_api import StripeNotConfiguredError
from apps.billing.utils import (
    create_checkout_session,
    get_active_subscription,
    get_customer_portal_url,
)

pytestmark = pytest.mark.django_db
URLS = {
    "success_url": "https://e.x/s?session_id={CHECKOUT_SESSION_ID}",
    "cancel_url": "https://e.x/c",
}


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


def stripe_customers(fake, email="alice@example.com"):
    return stripe.Customer.list(email=email, api_key=fake.api_key).data


# --- the customer -----------------------------------------------------------------------------


def test_the_customer_is_made_once_at_stripe_and_linked(offline, user):
    first = get_or_create_customer(user=user)
    second = get_or_create_customer(user=user)
    assert first == second == StripeCustomer.objects.get(user=user)
    [at_stripe] = stripe_customers(offline.fake)
    assert at_stripe.id == first.stripe_customer_id
    assert at_stripe.metadata["user_id"] == str(user.pk)


def test_a_customer_stripe_no_longer_has_is_replaced(offline, user):
    old = get_or_create_customer(user=user)
    stripe.Customer.delete(old.stripe_customer_id, api_key=offline.fake.api_key)  # no webhook yet
    new = get_or_create_customer(user=user)
    assert new.stripe_customer_id != old.stripe_customer_id
    old.refresh_from_db()
    assert (old.user, old.former_user) == (None, user)
    assert StripeCustomer.objects.get(user=user) == new


def test_a_customer_of_another_stripe_account_is_replaced(offline, user):
    StripeCustomer.objects.create(user=user, stripe_customer_id="cus_FromAnotherAccount")
    new = get_or_create_customer(user=user)
    assert new.stripe_customer_id.startswith("cus_")
    assert new.stripe_customer_id != "cus_FromAnotherAccount"


def test_forget_customer_unlinks_so_the_next_checkout_makes_a_new_one(offline, user):
    old = get_or_create_customer(user=user)
    forget_customer(old.stripe_customer_id)
    forget_customer(old.stripe_customer_id)  # idempotent
    fresh = type(user).objects.get(pk=user.pk)
    with pytest.raises(NoStripeCustomerError):
        get_customer_portal_url(fresh, "https://e.x/back")
    assert get_or_create_customer(user=fresh) != old


# --- checkout ---------------------------------------------------------------------------------


def test_checkout_pays_as_the_users_customer_never_by_email(offline, user):
    session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    customer = StripeCustomer.objects.get(user=user)
    assert session.customer == customer.stripe_customer_id
    assert session.customer_email is None
    assert session.client_reference_id == str(user.pk)
    assert session.metadata["user_id"] == str(user.pk)
    again = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    assert again.customer == customer.stripe_customer_id
    assert len(stripe_customers(offline.fake)) == 1


def test_a_new_checkout_expires_the_open_ones(offline, user):
    first = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    second = create_checkout_session(user=user, price_id=offline.enterprise, **URLS)
    key = offline.fake.api_key
    assert stripe.checkout.Session.retrieve(first.id, api_key=key).status == "expired"
    assert stripe.checkout.Session.retrieve(second.id, api_key=key).status == "open"


def test_the_trial_is_offered_to_a_new_customer(offline, user, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    assert offline.fake.submit_checkout(session.url).status == 303
    subscription = stripe.checkout.Session.retrieve(
        session.id, expand=["subscription"], api_key=offline.fake.api_key
    ).subscription
    assert subscription.status == "trialing"


def test_no_second_trial_for_a_customer_who_subscribed_at_stripe(offline, user, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    customer = get_or_create_customer(user=user)
    earlier = stripe.Subscription.create(  # made in the dashboard: no webhook has told us
        customer=customer.stripe_customer_id,
        items=[{"price": offline.pro}],
        payment_behavior="default_incomplete",
        api_key=offline.fake.api_key,
    )
    stripe.Subscription.cancel(earlier.id, api_key=offline.fake.api_key)
    assert not Subscription.objects.exists()
    session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    assert offline.fake.submit_checkout(session.url).status == 303
    subscription = stripe.checkout.Session.retrieve(
        session.id, expand=["subscription"], api_key=offline.fake.api_key
    ).subscription
    assert (subscription.status, subscription.trial_end) == ("active", None)


def test_checkout_without_a_secret_key_raises_a_clear_error(user, settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(StripeNotConfiguredError, match="set STRIPE_SECRET_KEY"):
        create_checkout_session(user=user, price_id="price_test_123", **URLS)
    assert not StripeCustomer.objects.exists()


# --- the success page's confirmation ----------------------------------------------------------


def test_a_paid_session_is_confirmed_before_any_webhook(offline, user):
    session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    assert offline.fake.submit_checkout(session.url).status == 303

    confirmation = confirm_checkout_session(user=user, session_id=session.id)
    assert confirmation.outcome == CheckoutOutcome.CONFIRMED
    assert confirmation.subscription == get_active_subscription(user)
    assert confirmation.subscription.plan.slug == "pro"

    offline.deliver()  # the webhooks, later: the same one subscription, still active
    assert Subscription.objects.get().status == "active"
    again = confirm_checkout_session(user=user, session_id=session.id)  # a reload
    assert (again.outcome, Subscription.objects.count()) == (CheckoutOutcome.CONFIRMED, 1)


def test_an_unfinished_session_is_open_and_an_expired_one_expired(offline, user):
    open_session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    assert confirm_checkout_session(user=user, session_id=open_session.id).outcome == "open"
    create_checkout_session(user=user, price_id=offline.pro, **URLS)  # expires the first
    assert confirm_checkout_session(user=user, session_id=open_session.id).outcome == "expired"
    assert not user.has_active_subscription


def test_a_complete_session_whose_payment_is_still_processing(offline, user):
    session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    offline.fake.submit_checkout(session.url)
    # A delayed payment method (a bank debit) leaves the session complete but unpaid; the
    # offline Stripe has none, so its stored session is set so.
    with offline.fake.state.lock:
        offline.fake.state.objects[session.id]["payment_status"] = "unpaid"
    confirmation = confirm_checkout_session(user=user, session_id=session.id)
    assert confirmation.outcome == CheckoutOutcome.PROCESSING


@pytest.mark.parametrize(
    "session_id", ["", "nope", "cs_test_doesnotexist", "cs_../../v1/customers"]
)
def test_unknown_or_malformed_session_ids_are_not_found(offline, user, session_id):
    assert confirm_checkout_session(user=user, session_id=session_id).outcome == "not_found"


def test_another_users_session_is_not_found(offline, user, other_user):
    session = create_checkout_session(user=other_user, price_id=offline.pro, **URLS)
    offline.fake.submit_checkout(session.url)
    confirmation = confirm_checkout_session(user=user, session_id=session.id)
    assert confirmation.outcome == CheckoutOutcome.NOT_FOUND
    assert not Subscription.objects.exists()


def test_confirmation_when_stripe_cannot_be_reached_is_unavailable(offline, user, settings):
    session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    stripe.api_base = "http://127.0.0.1:9"  # nothing listens there
    assert confirm_checkout_session(user=user, session_id=session.id).outcome == "unavailable"
    settings.STRIPE_SECRET_KEY = ""
    assert confirm_checkout_session(user=user, session_id=session.id).outcome == "unavailable"


# --- closing the billing account --------------------------------------------------------------


def test_closing_the_account_cancels_at_once_and_deletes_the_customer(offline, user):
    offline.subscribe()
    offline.deliver()
    subscription = Subscription.objects.get()
    customer_id = subscription.customer.stripe_customer_id

    close_billing_account(user=user)

    key = offline.fake.api_key
    at_stripe = stripe.Subscription.retrieve(subscription.stripe_subscription_id, api_key=key)
    assert at_stripe.status == "canceled"
    assert stripe.Customer.retrieve(customer_id, api_key=key).deleted is True
    customer = StripeCustomer.objects.get(stripe_customer_id=customer_id)
    assert (customer.user, customer.former_user) == (None, user)
    assert not type(user).objects.get(pk=user.pk).has_active_subscription  # at once

    close_billing_account(user=user)  # again: nothing left to do
    user.delete()  # the local rows stay, unlinked
    offline.deliver()  # the webhooks of the cancellation and the deletion still apply
    assert Subscription.objects.get().status == "canceled"
    assert StripeCustomer.objects.get().former_user is None  # the user is gone
    assert not mail.outbox


def test_closing_an_account_whose_customer_stripe_already_deleted(offline, user):
    customer = get_or_create_customer(user=user)
    stripe.Customer.delete(customer.stripe_customer_id, api_key=offline.fake.api_key)
    close_billing_account(user=user)
    customer.refresh_from_db()
    assert customer.user is None


def test_closing_an_account_without_a_customer_does_nothing(offline, user):
    close_billing_account(user=user)
    assert not StripeCustomer.objects.exists()


def test_a_stripe_failure_while_closing_raises_and_keeps_the_link(offline, user):
    customer = get_or_create_customer(user=user)
    stripe.api_base = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(stripe.APIConnectionError):
        close_billing_account(user=user)
    customer.refresh_from_db()
    assert customer.user == user  # kept, for the retry
