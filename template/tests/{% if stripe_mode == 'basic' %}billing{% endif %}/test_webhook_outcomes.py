"""What each kind of Stripe event leaves behind (basic mode): who a checkout links, what a
subscription row holds, who is emailed, which waiting events a link replays, and that an event
done (applied or ignored) is never applied again while one not done yet still runs later.
Each event is delivered signed with a real HMAC and processed as a worker processes it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command

from apps.billing.models import StripeCustomer, Subscription, WebhookEvent
from apps.billing.selectors import get_active_subscription
from tests.db_faults import refusing_inserts
from tests.stripe_events import load_fixture, make_event

from .harness import deliver

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status


def stored(event: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent.objects.get(stripe_event_id=event["id"])


def delivered(client: Any, event: dict[str, Any]) -> WebhookEvent:
    """Deliver an event (accepted: 200) and let a worker process it; its stored row then."""
    response = deliver(client, event)
    assert response.status_code == 200, response.content
    return stored(event)


def checkout_completed(**fields: Any) -> dict[str, Any]:
    return make_event("checkout.session.completed", load_fixture("checkout_session", **fields))


def subscription_event(
    event_type: str = "customer.subscription.created", *, created: int = 0, **fields: Any
) -> dict[str, Any]:
    return make_event(event_type, load_fixture("subscription", **fields), created=created or None)


def with_item(price: Any, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    """The fixture subscription's items with one item of this price and quantity."""
    items = load_fixture("subscription")["items"]
    items["data"][0].update(price=price, quantity=quantity, **fields)
    return dict(items)


def at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


# --- checkout links the customer to the user who paid ----------------------------------------


def test_a_checkout_that_is_not_a_subscription_links_nobody(client: Any, user: Any) -> None:
    row = delivered(client, checkout_completed(mode="payment", client_reference_id=str(user.pk)))
    assert (row.status, row.last_error) == (Status.IGNORED, "Not a subscription checkout.")
    assert not StripeCustomer.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"client_reference_id": None, "metadata": {}},
        {"client_reference_id": "999999"},
        {"client_reference_id": "not-a-user"},
        {"client_reference_id": "USER", "customer": None},
    ],
    ids=["no-reference", "unknown-user", "bad-reference", "no-customer"],
)
def test_a_checkout_without_a_known_user_and_customer_links_nobody(
    client: Any, user: Any, fields: dict[str, Any]
) -> None:
    if fields.get("client_reference_id") == "USER":
        fields["client_reference_id"] = str(user.pk)
    row = delivered(client, checkout_completed(**fields))
    assert (row.status, row.last_error) == (Status.IGNORED, "No user or customer on the session.")
    assert not StripeCustomer.objects.exists()


def test_a_checkout_links_through_metadata_when_it_has_no_client_reference(
    client: Any, user: Any
) -> None:
    event = checkout_completed(
        client_reference_id=None, customer="cus_ByMetadata", metadata={"user_id": str(user.pk)}
    )
    row = delivered(client, event)
    assert row.status == Status.PROCESSED
    assert row.last_error == f"Linked cus_ByMetadata to user {user.pk}."
    assert StripeCustomer.objects.get(user=user).stripe_customer_id == "cus_ByMetadata"


def test_the_client_reference_wins_over_the_metadata(
    client: Any, user: Any, other_user: Any
) -> None:
    event = checkout_completed(
        client_reference_id=str(user.pk),
        customer="cus_Referenced",
        metadata={"user_id": str(other_user.pk)},
    )
    delivered(client, event)
    assert StripeCustomer.objects.get().user == user


def test_the_first_stripe_customer_linked_to_a_user_is_kept(client: Any, user: Any) -> None:
    delivered(client, checkout_completed(client_reference_id=str(user.pk), customer="cus_First"))
    second = delivered(
        client, checkout_completed(client_reference_id=str(user.pk), customer="cus_Second")
    )
    assert second.status == Status.PROCESSED
    assert [c.stripe_customer_id for c in StripeCustomer.objects.filter(user=user)] == ["cus_First"]
    assert not StripeCustomer.objects.filter(stripe_customer_id="cus_Second").exists()


def test_a_team_checkout_does_not_make_the_buyer_the_customer(client: Any, user: Any) -> None:
    event = checkout_completed(
        client_reference_id=str(user.pk), customer="cus_Team", metadata={"team_id": "7"}
    )
    assert delivered(client, event).status == Status.PROCESSED
    assert not StripeCustomer.objects.filter(user=user).exists()


# --- linking replays what waited for that customer, and only that --------------------------


def test_a_link_replays_only_that_customers_deferred_events(client: Any, user: Any) -> None:
    mine = subscription_event(customer="cus_Mine", id="sub_mine")
    theirs = subscription_event(customer="cus_Theirs", id="sub_theirs")
    assert delivered(client, mine).status == Status.DEFERRED
    assert delivered(client, theirs).status == Status.DEFERRED
    failed = WebhookEvent.objects.create(
        stripe_event_id="evt_failed_for_mine",
        type="customer.subscription.updated",
        created=at(int(time.time()) - 60),
        stripe_customer_id="cus_Mine",
        status=Status.FAILED,
        attempts=1,
        last_error="RuntimeError: boom",
        payload=subscription_event(
            "customer.subscription.updated", customer="cus_Mine", id="sub_mine", status="unpaid"
        ),
    )

    delivered(client, checkout_completed(client_reference_id=str(user.pk), customer="cus_Mine"))

    assert stored(mine).status == Status.PROCESSED
    assert (stored(theirs).status, stored(theirs).attempts) == (Status.DEFERRED, 1)  # not re-run
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.FAILED, 1)  # retried by its own task
    assert list(Subscription.objects.values_list("stripe_subscription_id", "status")) == [
        ("sub_mine", "active")
    ]


def test_an_event_deferred_twice_still_applies_once_its_customer_is_linked(
    client: Any, user: Any
) -> None:
    waiting = subscription_event(customer="cus_Later")
    assert delivered(client, waiting).status == Status.DEFERRED
    row = delivered(client, waiting)  # Stripe redelivers it: still nobody to apply it to
    assert (row.status, row.attempts) == (Status.DEFERRED, 2)
    delivered(client, checkout_completed(client_reference_id=str(user.pk), customer="cus_Later"))
    row = stored(waiting)
    assert (row.status, row.attempts) == (Status.PROCESSED, 3)
    assert get_active_subscription(user) is not None


def test_an_event_that_failed_twice_still_applies_later(client: Any, customer: Any) -> None:
    event = subscription_event()
    with refusing_inserts(Subscription._meta.db_table):
        assert delivered(client, event).status == Status.FAILED
        row = delivered(client, event)  # a redelivery fails the same way
        assert (row.status, row.attempts) == (Status.FAILED, 2)
        assert "refused" in row.last_error
        output = StringIO()
        call_command("billing_retry_events", stdout=output)  # still failing: kept, counted
        assert f"{event['id']} customer.subscription.created: failed" in output.getvalue()
        assert "0 of 1 events applied." in output.getvalue()
    call_command("billing_retry_events", stdout=StringIO())
    row = stored(event)
    assert (row.status, row.attempts) == (Status.PROCESSED, 4)
    assert Subscription.objects.get().status == "active"


# --- an event done is never applied again -------------------------------------------------------


def test_an_ignored_event_redelivered_stays_ignored(
    client: Any, customer: Any, settings: Any
) -> None:
    settings.BILLING_TRIAL_REMINDER_EMAILS = False
    reminder = subscription_event(
        "customer.subscription.trial_will_end",
        status="trialing",
        trial_end=int(time.time()) + 3 * 86_400,
    )
    assert delivered(client, reminder).status == Status.IGNORED
    settings.BILLING_TRIAL_REMINDER_EMAILS = True
    row = delivered(client, reminder)  # a redelivery, after reminders were turned on
    assert (row.status, row.attempts) == (Status.IGNORED, 1)
    assert not mail.outbox


def test_an_event_of_an_unknown_type_is_kept_as_ignored(client: Any) -> None:
    row = delivered(client, make_event("charge.refunded", {"id": "ch_1", "object": "charge"}))
    assert (row.status, row.last_error) == (Status.IGNORED, "No handler for charge.refunded.")


# --- what a subscription row holds ----------------------------------------------------------


def test_the_row_holds_the_quantity_and_every_end_date(client: Any, customer: Any) -> None:
    now = int(time.time())
    event = subscription_event(
        "customer.subscription.deleted",
        created=now,
        status="canceled",
        items=with_item(load_fixture("subscription")["items"]["data"][0]["price"], quantity=4),
        cancel_at_period_end=True,
        cancel_at=now - 300,
        canceled_at=now - 200,
        ended_at=now - 100,
        trial_end=now - 50_000,
    )
    row = delivered(client, event)
    assert (row.status, row.last_error) == (
        Status.PROCESSED,
        "Created sub_1QtestSubscription01 (canceled).",
    )
    sub = Subscription.objects.get()
    assert sub.quantity == 4
    assert sub.cancel_at_period_end is True
    assert (sub.cancel_at, sub.canceled_at, sub.ended_at) == (
        at(now - 300),
        at(now - 200),
        at(now - 100),
    )
    assert sub.trial_end == at(now - 50_000)
    assert (sub.last_event_at, sub.last_event_type, sub.last_event_id) == (
        at(now),
        "customer.subscription.deleted",
        event["id"],
    )


@pytest.mark.parametrize(
    ("price", "plan_name"),
    [
        ({"id": "price_unknown_1", "object": "price", "nickname": "Legacy gold"}, "Legacy gold"),
        ({"id": "price_unknown_2", "object": "price", "nickname": None}, "price_unknown_2"),
        ("price_unknown_3", "price_unknown_3"),
    ],
    ids=["nickname", "no-nickname", "price-id-only"],
)
def test_a_price_outside_the_plans_is_named_by_its_nickname_or_id(
    client: Any, customer: Any, price: Any, plan_name: str
) -> None:
    delivered(client, subscription_event(items=with_item(price)))
    sub = Subscription.objects.get()
    price_id = price if isinstance(price, str) else price["id"]
    assert (sub.price_id, sub.plan_name, sub.quantity) == (price_id, plan_name, 1)


def test_a_newer_update_rewrites_every_field_of_the_row(client: Any, customer: Any) -> None:
    now = int(time.time())
    delivered(client, subscription_event(created=now - 100))
    enterprise = {"id": "price_test_enterprise", "object": "price", "nickname": None}
    update = subscription_event(
        "customer.subscription.updated",
        created=now,
        status="past_due",
        items=with_item(
            enterprise, quantity=3, current_period_start=now - 10, current_period_end=now + 500
        ),
        cancel_at_period_end=True,
        cancel_at=now + 500,
        canceled_at=now - 5,
        trial_end=now - 1_000,
    )
    row = delivered(client, update)
    assert row.last_error == "Updated sub_1QtestSubscription01 (past_due)."
    sub = Subscription.objects.get()
    assert (sub.status, sub.price_id, sub.plan_name, sub.quantity) == (
        "past_due",
        "price_test_enterprise",
        "Enterprise",
        3,
    )
    assert (sub.current_period_start, sub.current_period_end) == (at(now - 10), at(now + 500))
    assert (sub.cancel_at_period_end, sub.cancel_at, sub.canceled_at) == (
        True,
        at(now + 500),
        at(now - 5),
    )
    assert (sub.ended_at, sub.trial_end) == (None, at(now - 1_000))
    assert (sub.last_event_at, sub.last_event_id) == (at(now), update["id"])


def test_a_subscription_moved_to_another_customer_follows_it(
    client: Any, customer: Any, other_user: Any
) -> None:
    now = int(time.time())
    delivered(client, subscription_event(created=now - 100))
    StripeCustomer.objects.create(user=other_user, stripe_customer_id="cus_Other")
    delivered(
        client,
        subscription_event("customer.subscription.updated", created=now, customer="cus_Other"),
    )
    assert Subscription.objects.get().customer.user == other_user
    assert get_active_subscription(customer.user) is None


def test_an_older_update_of_an_ended_subscription_is_skipped(client: Any, customer: Any) -> None:
    now = int(time.time())
    delivered(client, subscription_event(created=now - 100))
    delivered(
        client,
        subscription_event("customer.subscription.deleted", created=now - 50, status="canceled"),
    )
    late = delivered(
        client, subscription_event("customer.subscription.updated", created=now, status="active")
    )
    assert late.status == Status.PROCESSED
    assert late.last_error == "Skipped: subscription is already canceled."
    older = delivered(
        client,
        subscription_event("customer.subscription.deleted", created=now - 80, status="canceled"),
    )
    assert older.last_error == "Skipped: a newer event was already applied."
    assert Subscription.objects.get().status == "canceled"


# --- who is emailed about an invoice ---------------------------------------------------------


def test_a_failed_payment_emails_the_invoices_address(client: Any, customer: Any) -> None:
    invoice = load_fixture("invoice", customer_email="accounts@corp.example")
    row = delivered(client, make_event("invoice.payment_failed", invoice))
    assert row.last_error == "Payment failed email queued for accounts@corp.example."
    assert [message.to for message in mail.outbox] == [["accounts@corp.example"]]


def test_a_deleted_customer_is_unlinked_as_of_the_deletion(client: Any, customer: Any) -> None:
    created = int(time.time()) - 3_600
    event = make_event(
        "customer.deleted",
        {"id": customer.stripe_customer_id, "object": "customer"},
        created=created,
    )
    row = delivered(client, event)
    assert row.last_error == f"Unlinked deleted customer {customer.stripe_customer_id}."
    customer.refresh_from_db()
    assert (customer.user, customer.unlinked_at) == (None, at(created))


def test_a_customer_deleted_before_it_was_known_is_recorded_unlinked(client: Any) -> None:
    created = int(time.time()) - 7_200
    gone = {"id": "cus_NeverSeen", "object": "customer"}
    delivered(client, make_event("customer.deleted", gone, created=created))
    row = StripeCustomer.objects.get(stripe_customer_id="cus_NeverSeen")
    assert (row.user, row.former_user, row.unlinked_at) == (None, None, at(created))
    # A second deletion event (Stripe sends one per endpoint) keeps the first time.
    delivered(client, make_event("customer.deleted", gone, created=created + 60))
    row.refresh_from_db()
    assert row.unlinked_at == at(created)
