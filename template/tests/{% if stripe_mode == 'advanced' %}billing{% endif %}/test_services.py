"""The billing services against the offline Stripe: one customer per user, one open Checkout
at a time, one trial per customer, the success page's confirmation, deleted customers, and
closing a billing account."""

from __future__ import annotations

import logging

import pytest
import stripe
from django.db import DatabaseError
from django.urls import reverse
from djstripe.models import Customer

from apps.billing.checkout_state import CheckoutOutcome
from apps.billing.models import Subscription, SubscriptionMetadata
from apps.billing.selectors import get_active_subscription, get_customer, stripe_customer_id_of
from apps.billing.services import (
    close_billing_account,
    confirm_checkout_session,
    create_checkout_session,
    forget_customer,
    get_or_create_customer,
)
from tests.db_faults import refusing_inserts

from . import factories

pytestmark = pytest.mark.django_db
SUCCESS = "http://testserver/billing/success/?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "http://testserver/billing/pricing/"
#: Nothing listens here: calls to it fail like Stripe being unreachable.
UNREACHABLE = "http://127.0.0.1:9"


def checkout(user, plan):
    return create_checkout_session(user, plan.stripe_price_id, SUCCESS, CANCEL)


def stripe_customers(fake):
    return stripe.Customer.list(api_key=fake.api_key).data


def session_at_stripe(fake, session_id):
    return stripe.checkout.Session.retrieve(session_id, api_key=fake.api_key)


# --- one customer per user ----------------------------------------------------------------


def test_the_customer_is_created_before_the_first_checkout_and_reused(user, stripe_fake, catalog):
    first = checkout(user, catalog["pro"])
    second = checkout(user, catalog["enterprise"])
    customers = stripe_customers(stripe_fake)
    assert len(customers) == 1
    assert customers[0].email == user.email
    assert customers[0].metadata["djstripe_subscriber"] == str(user.pk)
    for session in (first, second):
        stored = session_at_stripe(stripe_fake, session.id)
        assert stored.customer == customers[0].id
        assert stored.customer_email is None  # never Checkout's own customer
    local = Customer.objects.get()
    assert local.id == customers[0].id and local.subscriber == user


def test_every_subscription_of_a_user_is_on_their_one_customer(user, stripe_fake, catalog):
    """The portal of the user's customer shows each of their subscriptions."""
    session = checkout(user, catalog["pro"])
    stripe_fake.submit_checkout(session.id)
    stripe_fake.deliver()
    stripe.Subscription.cancel(get_active_subscription(user).id, api_key=stripe_fake.api_key)
    stripe_fake.deliver()
    again = checkout(user, catalog["enterprise"])
    stripe_fake.submit_checkout(again.id)
    stripe_fake.deliver()
    assert len(stripe_customers(stripe_fake)) == 1
    customer = get_customer(user)
    assert Subscription.objects.filter(customer=customer).count() == 2


def test_a_customer_deleted_at_stripe_without_a_webhook_is_replaced(
    user, stripe_fake, catalog, caplog
):
    old = get_or_create_customer(user=user)
    stripe.Customer.delete(old.id, api_key=stripe_fake.api_key)  # its webhook never arrives
    with caplog.at_level(logging.WARNING, logger="apps.billing.services"):
        session = checkout(user, catalog["pro"])
    assert f"Stripe customer {old.id} of user {user.pk} is gone: unlinked" in caplog.messages
    new = get_customer(user)
    assert new.id != old.id
    assert session_at_stripe(stripe_fake, session.id).customer == new.id
    old.refresh_from_db()
    assert old.subscriber is None and old.date_purged is not None
    # The new customer can pay.
    assert stripe_fake.submit_checkout(session.id).status == 303
    stripe_fake.deliver()
    assert get_active_subscription(user).customer_id == new.id


def test_a_retry_after_a_failed_save_gets_the_same_stripe_customer(
    user, django_user_model, stripe_fake
):
    """Stripe made the customer but saving it here failed: the retry carries the same
    idempotency key and gets that customer back, even if another user's customer was
    replaced meanwhile (each user's key counts only their own gone customers)."""
    # (On SQLite dj-stripe reports the refused insert as the row not found.)
    failed = (DatabaseError, Customer.DoesNotExist)
    with refusing_inserts(Customer._meta.db_table), pytest.raises(failed):
        get_or_create_customer(user=user)
    (made,) = stripe_customers(stripe_fake)
    other = django_user_model.objects.create_user(email="other@example.com")
    forget_customer(get_or_create_customer(user=other).id)
    assert get_or_create_customer(user=user).id == made.id
    assert len(stripe_customers(stripe_fake)) == 2  # the user's one and the other's


def test_forget_customer_unlinks_so_the_user_can_start_over(user, stripe_fake, catalog):
    old = get_or_create_customer(user=user)
    forget_customer(old.id)
    forget_customer(old.id)  # idempotent
    forget_customer("cus_unknown")  # a customer never seen: nothing to do
    assert stripe_customer_id_of(user) is None
    forgotten = Customer.objects.get(id=old.id)
    # The row keeps what Stripe held, marked deleted as Stripe's own deleted object is.
    assert forgotten.stripe_data["deleted"] is True
    assert forgotten.stripe_data["email"] == user.email
    assert get_or_create_customer(user=user).id != old.id
    assert len(stripe_customers(stripe_fake)) == 2


def test_djstripes_own_get_or_create_makes_a_new_customer_after_a_forgotten_one(user, stripe_fake):
    """Code written against dj-stripe's API (`Customer.get_or_create`) gets a live customer
    after its first was deleted at Stripe: dj-stripe's stored idempotency key would replay
    the deleted one's creation."""
    first, _ = Customer.get_or_create(subscriber=user)
    stripe.Customer.delete(first.id, api_key=stripe_fake.api_key)
    forget_customer(first.id)
    second, created = Customer.get_or_create(subscriber=user)
    assert created and second.id != first.id
    assert not stripe.Customer.retrieve(second.id, api_key=stripe_fake.api_key).get("deleted")


def test_the_customer_deleted_webhook_unlinks_and_later_events_still_apply(
    client, user, stripe_fake, catalog
):
    session = checkout(user, catalog["pro"])
    stripe_fake.submit_checkout(session.id)
    stripe_fake.deliver()
    customer = get_customer(user)
    subscription = get_active_subscription(user)

    stripe_fake.hold()
    stripe.Customer.delete(customer.id, api_key=stripe_fake.api_key)  # cancels its subscription
    stripe_fake.release(order="reverse")  # customer.deleted before the subscription's events
    deliveries = stripe_fake.deliver()
    types = {delivery.event_type for delivery in deliveries}
    assert {"customer.deleted", "customer.subscription.deleted"} <= types
    assert all(d.ok for d in deliveries)  # nothing waits for a customer that will never return

    assert get_customer(user) is None
    assert Subscription.objects.get(id=subscription.id).status == "canceled"
    assert get_active_subscription(user) is None
    # The user can subscribe again: a new customer.
    client.force_login(user)
    response = client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    assert response.status_code == 302
    assert get_customer(user).id != customer.id
    assert stripe_fake.submit_checkout(response["Location"]).status == 303
    stripe_fake.deliver()
    assert get_active_subscription(user).customer_id == get_customer(user).id


def test_a_metered_plan_is_sold_with_its_metered_price(user, stripe_fake, catalog):
    usage = catalog["usage"]
    session = create_checkout_session(user, usage.stripe_price_id, SUCCESS, CANCEL)
    items = stripe.checkout.Session.list_line_items(session.id, api_key=stripe_fake.api_key)
    assert [item.price.id for item in items.data] == [
        usage.stripe_price_id,
        usage.metered_price_id,
    ]


def test_a_price_not_synced_yet_can_still_be_bought(user, stripe_fake, catalog):
    """A price made in the Dashboard since the last sync: Checkout sells it as it is."""
    price = factories.stripe_monthly_price("New", 1500)
    session = create_checkout_session(user, price.id, SUCCESS, CANCEL)
    items = stripe.checkout.Session.list_line_items(session.id, api_key=stripe_fake.api_key)
    assert [(item.price.id, item.quantity) for item in items.data] == [(price.id, 1)]


def test_a_synced_metered_price_outside_the_plans_is_sold_without_a_quantity(
    user, stripe_fake, catalog
):
    """Stripe refuses a quantity on a metered price: one bought on its own (an add-on, say)
    goes to Checkout as the synced price says."""
    metered = catalog["usage"].metered_price_id
    session = create_checkout_session(user, metered, SUCCESS, CANCEL)
    items = stripe.checkout.Session.list_line_items(session.id, api_key=stripe_fake.api_key)
    assert [item.price.id for item in items.data] == [metered]


# --- one open Checkout, one trial --------------------------------------------------------


def test_a_new_checkout_expires_the_other_open_ones(user, stripe_fake, catalog):
    first_tab = checkout(user, catalog["pro"])
    second_tab = checkout(user, catalog["enterprise"])
    assert session_at_stripe(stripe_fake, first_tab.id).status == "expired"
    assert session_at_stripe(stripe_fake, second_tab.id).status == "open"
    assert stripe_fake.submit_checkout(first_tab.url).status != 303  # cannot be paid any more
    assert stripe_fake.submit_checkout(second_tab.url).status == 303
    stripe_fake.deliver()
    assert Subscription.objects.count() == 1


def pay_checkout(user, plan, fake):
    """A Checkout of `plan` paid by `user`, its webhooks delivered: the session."""
    session = checkout(user, plan)
    fake.submit_checkout(session.id)
    fake.deliver()
    return session


@pytest.mark.parametrize("ended_by", ["canceling it", "deleting its customer"])
def test_one_free_trial_per_user(settings, user, stripe_fake, catalog, ended_by):
    """However the trial's subscription ended (canceled, or with its customer deleted at
    Stripe, so the next Checkout makes a new customer), the next one gives no second trial."""
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    pay_checkout(user, catalog["pro"], stripe_fake)
    trial = get_active_subscription(user)
    assert trial.status == "trialing"
    if ended_by == "canceling it":
        stripe.Subscription.cancel(trial.id, api_key=stripe_fake.api_key)
    else:
        stripe.Customer.delete(trial.customer_id, api_key=stripe_fake.api_key)
    stripe_fake.deliver()

    pay_checkout(user, catalog["pro"], stripe_fake)
    paying = get_active_subscription(user)
    assert paying.status == "active"  # charged now
    assert (paying.customer_id != trial.customer_id) == (ended_by == "deleting its customer")


@pytest.mark.parametrize("others", ["at Stripe only", "kept here after closing"])
def test_other_customers_subscriptions_leave_a_new_user_their_trial(
    settings, user, django_user_model, stripe_fake, catalog, others
):
    """Neither another user's subscription nor the history a closed account leaves behind (its
    customer unlinked from anyone) costs a new user their trial."""
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    other = django_user_model.objects.create_user(email="other@example.com")
    factories.stripe_subscription(user=other, plan=catalog["pro"])
    if others == "kept here after closing":
        stripe_fake.deliver()
        close_billing_account(user=other)
        assert Subscription.objects.filter(customer__subscriber__isnull=True).exists()
    session = checkout(user, catalog["pro"])
    stripe_fake.submit_checkout(session.id)
    done = stripe.checkout.Session.retrieve(
        session.id, expand=["subscription"], api_key=stripe_fake.api_key
    )
    assert done.subscription.status == "trialing"


def test_no_second_trial_for_a_customer_stripe_knows_subscribed(
    settings, user, stripe_fake, catalog
):
    """A subscription made outside this database (e.g. in the Dashboard) counts too."""
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    customer = get_or_create_customer(user=user)
    stripe.Subscription.create(
        customer=customer.id,
        items=[{"price": catalog["pro"].stripe_price_id}],
        default_payment_method=stripe.PaymentMethod.attach(
            "pm_card_visa", customer=customer.id, api_key=stripe_fake.api_key
        ).id,
        api_key=stripe_fake.api_key,
    )  # no webhook delivered: the database does not know it
    stripe.Subscription.cancel(
        stripe.Subscription.list(customer=customer.id, api_key=stripe_fake.api_key).data[0].id,
        api_key=stripe_fake.api_key,
    )
    session = checkout(user, catalog["pro"])
    stripe_fake.submit_checkout(session.id)
    done = stripe.checkout.Session.retrieve(
        session.id, expand=["subscription"], api_key=stripe_fake.api_key
    )
    assert done.subscription.status == "active"


# --- the success page's confirmation ------------------------------------------------------


def test_a_paid_session_gives_access_before_any_webhook(user, stripe_fake, catalog):
    session = checkout(user, catalog["pro"])
    assert stripe_fake.submit_checkout(session.id).status == 303
    assert get_active_subscription(user) is None  # no webhook delivered yet

    confirmation = confirm_checkout_session(user=user, session_id=session.id)

    assert confirmation.outcome == CheckoutOutcome.CONFIRMED
    subscription = get_active_subscription(user)
    assert subscription is not None and confirmation.subscription == subscription
    assert subscription.plan_name == "Pro"
    assert subscription.billing_metadata.plan == catalog["pro"]
    # The webhooks then find it applied: one subscription, one metadata row.
    stripe_fake.deliver()
    assert confirm_checkout_session(user=user, session_id=session.id).outcome == "confirmed"
    assert Subscription.objects.count() == 1
    assert SubscriptionMetadata.objects.count() == 1


def test_an_open_session_is_open(user, stripe_fake, catalog):
    session = checkout(user, catalog["pro"])
    assert confirm_checkout_session(user=user, session_id=session.id).outcome == "open"
    assert get_active_subscription(user) is None


def test_an_expired_session_is_expired(user, stripe_fake, catalog):
    first = checkout(user, catalog["pro"])
    checkout(user, catalog["pro"])  # expires the first
    assert confirm_checkout_session(user=user, session_id=first.id).outcome == "expired"


def test_another_users_session_is_not_found(user, other_user, stripe_fake, catalog):
    session = checkout(user, catalog["pro"])
    stripe_fake.submit_checkout(session.id)
    confirmation = confirm_checkout_session(user=other_user, session_id=session.id)
    assert confirmation.outcome == CheckoutOutcome.NOT_FOUND
    assert confirmation.subscription is None
    assert not Subscription.objects.exists()  # nothing applied for anyone


@pytest.mark.parametrize(
    "session_id", ["", "cs_unknown123", "not-a-session", "cs_../../v1/customers", "x" * 300]
)
def test_unknown_or_malformed_ids_are_not_found(user, stripe_fake, session_id):
    assert confirm_checkout_session(user=user, session_id=session_id).outcome == "not_found"


@pytest.mark.parametrize("session_id", ["not-a-session", "cs_../../v1/customers", "x" * 300])
def test_an_id_that_cannot_be_a_session_is_not_asked_of_stripe(monkeypatch, user, session_id):
    monkeypatch.setattr(stripe, "api_base", UNREACHABLE)  # any request would be "unavailable"
    assert confirm_checkout_session(user=user, session_id=session_id).outcome == "not_found"


def test_a_complete_session_whose_subscription_gives_no_access_is_not_confirmed(
    user, stripe_fake, catalog
):
    session = checkout(user, catalog["pro"])
    stripe_fake.submit_checkout(session.id)
    done = stripe.checkout.Session.retrieve(session.id, api_key=stripe_fake.api_key)
    stripe.Subscription.cancel(done.subscription, api_key=stripe_fake.api_key)
    confirmation = confirm_checkout_session(user=user, session_id=session.id)
    assert confirmation.outcome == CheckoutOutcome.PROCESSING
    # The subscription as applied comes with it, for a caller to say why.
    assert (confirmation.subscription.id, confirmation.subscription.status) == (
        done.subscription,
        "canceled",
    )
    assert get_active_subscription(user) is None


def test_a_session_is_the_users_by_its_reference_or_by_their_customer(
    user, django_user_model, stripe_fake, catalog
):
    """Sessions made elsewhere (a Payment Link, the API) count as the user's when they carry
    the user as `client_reference_id` or pay as the user's customer; others are not found."""

    def session(**extra):
        return stripe.checkout.Session.create(
            mode="subscription",
            line_items=[{"price": catalog["pro"].stripe_price_id, "quantity": 1}],
            success_url=SUCCESS,
            cancel_url=CANCEL,
            api_key=stripe_fake.api_key,
            **extra,
        )

    by_reference = session(client_reference_id=str(user.pk))
    by_customer = session(customer=get_or_create_customer(user=user).id)
    other = django_user_model.objects.create_user(email="other@example.com")
    others = session(client_reference_id=str(other.pk))
    others_customer = session(customer=get_or_create_customer(user=other).id)
    for mine in (by_reference, by_customer):
        outcome = confirm_checkout_session(user=user, session_id=mine.id).outcome
        assert outcome == CheckoutOutcome.OPEN
    for theirs in (others, others_customer):
        outcome = confirm_checkout_session(user=user, session_id=theirs.id).outcome
        assert outcome == CheckoutOutcome.NOT_FOUND


def test_stripe_unreachable_is_unavailable(monkeypatch, user, stripe_fake, catalog, caplog):
    session = checkout(user, catalog["pro"])
    monkeypatch.setattr(stripe, "api_base", UNREACHABLE)
    with caplog.at_level(logging.WARNING, logger="apps.billing.services"):
        assert confirm_checkout_session(user=user, session_id=session.id).outcome == "unavailable"
    [message] = caplog.messages
    assert message.startswith(f"Checkout Session {session.id} could not be read: ")
    assert "Connection refused" in message  # what stripe-python says went wrong


def test_stripe_not_configured_is_unavailable(settings, user):
    settings.STRIPE_SECRET_KEY = ""
    outcome = confirm_checkout_session(user=user, session_id="cs_test_123").outcome
    assert outcome == CheckoutOutcome.UNAVAILABLE


# --- closing the billing account ---------------------------------------------------------


@pytest.fixture
def paying(client, user, stripe_fake, catalog):
    client.force_login(user)
    response = client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    stripe_fake.submit_checkout(response["Location"])
    stripe_fake.deliver()
    return get_active_subscription(user)


def test_closing_cancels_now_and_deletes_the_customer(user, stripe_fake, paying, caplog):
    customer_id = paying.customer_id
    with caplog.at_level(logging.INFO, logger="apps.billing.services"):
        close_billing_account(user=user)
    assert f"Billing of user {user.pk} closed: customer {customer_id} deleted" in caplog.messages

    remote = stripe.Subscription.retrieve(paying.id, api_key=stripe_fake.api_key)
    assert remote.status == "canceled"
    assert stripe.Customer.retrieve(customer_id, api_key=stripe_fake.api_key).deleted is True
    assert get_active_subscription(user) is None  # at once, before any webhook
    assert Subscription.objects.get(id=paying.id).status == "canceled"
    assert get_customer(user) is None
    assert Customer.objects.get(id=customer_id).subscriber is None  # kept, unlinked

    close_billing_account(user=user)  # idempotent
    # The webhooks of the cancellation and the deletion arrive after: all accepted.
    assert all(d.ok for d in stripe_fake.deliver())
    # No renewal is ever charged.
    stripe_fake.advance(days=40)
    stripe_fake.deliver()
    invoices = stripe.Invoice.list(customer=customer_id, api_key=stripe_fake.api_key).data
    assert [invoice.billing_reason for invoice in invoices] == ["subscription_create"]


def test_closing_after_the_customer_was_deleted_at_stripe_is_done(user, stripe_fake, paying):
    stripe.Customer.delete(paying.customer_id, api_key=stripe_fake.api_key)
    close_billing_account(user=user)
    assert get_customer(user) is None


def test_closing_in_test_mode_leaves_a_live_customer_alone(user, stripe_fake, paying):
    """A test-mode project (STRIPE_LIVE_MODE off) cannot reach live data with its key: a
    live customer row of the user stays theirs, for a close in live mode."""
    live = Customer.objects.create(
        id="cus_livemodecustomer", subscriber=user, livemode=True, stripe_data={}
    )
    close_billing_account(user=user)
    assert Customer.objects.get(id=paying.customer_id).subscriber is None
    live.refresh_from_db()
    assert live.subscriber == user


def test_closing_without_a_customer_does_nothing(user, stripe_fake):
    close_billing_account(user=user)
    assert stripe_customers(stripe_fake) == []


def test_closing_raises_when_stripe_fails_and_changes_nothing(
    monkeypatch, user, stripe_fake, paying
):
    monkeypatch.setattr(stripe, "api_base", UNREACHABLE)
    with pytest.raises(stripe.APIConnectionError):
        close_billing_account(user=user)
    monkeypatch.undo()
    assert get_customer(user) is not None  # still linked: the caller retries later
    assert get_active_subscription(user) is not None
    close_billing_account(user=user)
    assert get_customer(user) is None


def test_the_portal_link_uses_the_one_customer(client, user, stripe_fake, paying):
    response = client.post(reverse("billing:customer_portal"))
    assert response.status_code == 302
    portal = stripe_fake.page(response["Location"])
    assert portal.status == 200 and "Pro" in portal.text
