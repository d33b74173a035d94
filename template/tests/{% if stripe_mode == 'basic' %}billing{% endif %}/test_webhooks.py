"""The webhook endpoint, driven the way Stripe drives it: signed with a real HMAC, retried,
duplicated and out of order."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from apps.billing.emails import BillingEmail
from apps.billing.models import READ_FROM_API, StripeCustomer, Subscription, WebhookEvent
from apps.billing.selectors import cancels_at, get_customer, renews_at, subscription_history
from apps.billing.webhook_handlers import apply_subscription, to_datetime
from tests.db_faults import refusing_inserts
from tests.stripe_events import encode, load_fixture, make_event, sign

from .harness import URL, deliver

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status


def subscription_event(
    event_type: str = "customer.subscription.created", *, created: int = 0, **fields: Any
) -> dict[str, Any]:
    return make_event(event_type, load_fixture("subscription", **fields), created=created or None)


def delivered(client: Any, event: dict[str, Any]) -> str:
    """Deliver an event (accepted: 200) and let it be processed; its stored status then."""
    response = deliver(client, event)
    assert response.status_code == 200, response.content
    return WebhookEvent.objects.get(stripe_event_id=event["id"]).status


def test_the_webhook_url_is_the_documented_one():
    assert reverse("billing:webhook") == URL


# --- rejected requests: 400 and nothing written -------------------------------------------


def test_missing_signature_header_is_rejected(client):
    response = client.post(URL, data=encode(subscription_event()), content_type="application/json")
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_signature_with_the_wrong_secret_is_rejected(client):
    response = deliver(client, subscription_event(), secret="whsec_not_the_right_one")
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_tampered_body_is_rejected(client):
    body = encode(subscription_event())
    header = sign(body)
    tampered = body.replace(b'"active"', b'"canceled"')
    response = client.post(
        URL, data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_stale_timestamp_is_rejected(client, settings):
    stale = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE - 60
    response = deliver(client, subscription_event(), timestamp=stale)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"id": "evt_1"}',
        b'{"id": "evt_1", "type": "x", "created": 1}',
        b'{"id": 7, "type": "x", "created": 1, "data": {"object": {}}}',
        b'{"id": "evt_1", "type": "x", "created": "yesterday", "data": {"object": {}}}',
        b"\xff\xfe",
    ],
    ids=["empty", "not-json", "array", "no-type", "no-data", "bad-id", "bad-created", "not-utf8"],
)
def test_malformed_but_signed_bodies_are_rejected(client, body):
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body)
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_missing_webhook_secret_answers_503_so_stripe_retries(client, settings):
    event = subscription_event()
    body = encode(event)
    header = sign(body)
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()


# --- subscriptions ----------------------------------------------------------------------------


def test_subscription_created_creates_the_subscription_with_periods_from_items(client, customer):
    response = deliver(client, subscription_event())
    assert response.status_code == 200
    sub = Subscription.objects.get(stripe_subscription_id="sub_1QtestSubscription01")
    assert sub.customer == customer
    assert sub.status == "active"
    assert sub.price_id == "price_test_123"
    assert sub.plan_name == "Pro"
    assert sub.plan.slug == "pro"
    assert sub.current_period_start == datetime(2026, 1, 1, tzinfo=UTC)
    assert sub.current_period_end == datetime(2026, 2, 1, tzinfo=UTC)
    assert customer.user.has_active_subscription
    stored = WebhookEvent.objects.get()
    assert stored.status == Status.PROCESSED
    assert stored.payload["data"]["object"]["id"] == "sub_1QtestSubscription01"


def test_periods_fall_back_to_the_subscription_on_older_api_versions(client, customer):
    obj = load_fixture(
        "subscription", current_period_start=1700000000, current_period_end=1702592000
    )
    for item in obj["items"]["data"]:
        del item["current_period_start"], item["current_period_end"]
    assert deliver(client, make_event("customer.subscription.created", obj)).status_code == 200
    sub = Subscription.objects.get()
    assert sub.current_period_end == datetime.fromtimestamp(1702592000, tz=UTC)


def test_a_duplicate_delivery_has_exactly_one_effect(client, customer):
    event = make_event(
        "invoice.payment_failed", load_fixture("invoice"), event_id="evt_duplicate_0001"
    )
    first = deliver(client, event)
    second = deliver(client, event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert WebhookEvent.objects.count() == 1
    assert len(mail.outbox) == 1


def test_an_older_event_never_overwrites_newer_state(client, customer):
    now = int(time.time())
    newer = subscription_event(
        "customer.subscription.updated", created=now, cancel_at_period_end=True
    )
    older = subscription_event("customer.subscription.updated", created=now - 60)
    assert deliver(client, newer).status_code == 200
    assert deliver(client, older).status_code == 200
    sub = Subscription.objects.get()
    assert sub.cancel_at_period_end is True
    assert WebhookEvent.objects.filter(status=Status.PROCESSED).count() == 2


@pytest.mark.parametrize("read_before", [1, 0], ids=["a-second-before", "the-same-second"])
def test_a_state_the_success_page_read_never_overwrites_a_newer_webhook(
    client, customer, read_before
):
    # The success page read the subscription from Stripe, then a webhook with a newer state
    # landed before the page wrote what it read.
    now = int(time.time())
    newer = subscription_event("customer.subscription.updated", created=now, status="past_due")
    deliver(client, newer)
    with transaction.atomic():
        outcome = apply_subscription(
            load_fixture("subscription"), at=to_datetime(now - read_before), source=READ_FROM_API
        )
    assert outcome.detail.startswith("Skipped")
    assert Subscription.objects.get().status == "past_due"


def test_a_state_read_later_than_the_last_webhook_is_applied(client, customer):
    now = int(time.time())
    deliver(client, subscription_event(created=now - 5))
    changed = load_fixture("subscription", cancel_at_period_end=True)
    with transaction.atomic():
        apply_subscription(changed, at=to_datetime(now), source=READ_FROM_API)
    assert Subscription.objects.get().cancel_at_period_end is True


def test_an_active_state_read_in_the_second_checkout_created_the_subscription_wins(
    client, customer
):
    # Checkout creates the subscription `incomplete` and activates it within one second; the
    # customer, back on the success page in that second, must get the active state read from
    # Stripe, whatever the order the created event and the read land in.
    now = int(time.time())
    deliver(client, subscription_event(created=now, status="incomplete"))
    with transaction.atomic():
        apply_subscription(load_fixture("subscription"), at=to_datetime(now), source=READ_FROM_API)
    assert Subscription.objects.get().status == "active"
    deliver(
        client, subscription_event(created=now, status="incomplete")
    )  # a late one of that second
    assert Subscription.objects.get().status == "active"


def test_created_arriving_after_updated_in_the_same_second_does_not_win(client, customer):
    now = int(time.time())
    updated = subscription_event("customer.subscription.updated", created=now, status="past_due")
    created = subscription_event("customer.subscription.created", created=now, status="incomplete")
    deliver(client, updated)
    deliver(client, created)
    assert Subscription.objects.get().status == "past_due"


def renewal_that_fails(created: int) -> list[dict[str, Any]]:
    """A failed renewal as Stripe sends it: two updates of one second, each with the values it
    changed in `previous_attributes` (the new period, then past_due)."""
    obj = load_fixture("subscription")
    item = obj["items"]["data"][0]
    old_items = copy.deepcopy(obj["items"])
    item["current_period_start"], item["current_period_end"] = created, created + 30 * 86_400
    renewed = make_event("customer.subscription.updated", copy.deepcopy(obj), created=created)
    renewed["data"]["previous_attributes"] = {"items": old_items}
    obj["status"] = "past_due"
    failed = make_event("customer.subscription.updated", obj, created=created)
    failed["data"]["previous_attributes"] = {"status": "active"}
    return [renewed, failed]


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed"])
def test_two_updates_of_one_second_end_in_the_later_one_whatever_their_order(
    client, customer, reverse
):
    now = int(time.time())
    deliver(client, subscription_event(created=now - 60))
    events = renewal_that_fails(now)
    for event in reversed(events) if reverse else events:
        assert delivered(client, event) == Status.PROCESSED
    sub = Subscription.objects.get()
    assert (sub.status, sub.current_period_start) == ("past_due", to_datetime(now))


def test_without_previous_attributes_the_later_applied_of_one_second_wins(client, customer):
    now = int(time.time())
    deliver(client, subscription_event(created=now - 60))
    renewed, failed = renewal_that_fails(now)
    for event in (failed, renewed):
        del event["data"]["previous_attributes"]
        deliver(client, event)
    assert Subscription.objects.get().status == "active"  # nothing tells their order apart


def test_a_canceled_subscription_stays_canceled(client, customer):
    now = int(time.time())
    deleted = subscription_event(
        "customer.subscription.deleted",
        created=now,
        status="canceled",
        ended_at=now,
        canceled_at=now,
    )
    late_update = subscription_event("customer.subscription.updated", created=now + 5)
    deliver(client, deleted)
    deliver(client, late_update)
    sub = Subscription.objects.get()
    assert sub.status == "canceled"
    assert not customer.user.has_active_subscription


def test_subscription_deleted_revokes_access(client, customer):
    now = int(time.time())
    deliver(client, subscription_event(created=now - 10))
    assert customer.user.has_active_subscription
    deliver(
        client, subscription_event("customer.subscription.deleted", created=now, status="canceled")
    )
    assert not customer.user.has_active_subscription


def test_trialing_counts_as_active(client, customer):
    deliver(client, subscription_event(status="trialing", trial_end=int(time.time()) + 86400))
    sub = Subscription.objects.get()
    assert sub.status == "trialing" and sub.trial_end is not None
    assert customer.user.has_active_subscription


def test_subscription_for_a_customer_found_through_metadata(client, user):
    event = subscription_event(customer="cus_NewFromMetadata", metadata={"user_id": str(user.pk)})
    assert deliver(client, event).status_code == 200
    assert StripeCustomer.objects.get(user=user).stripe_customer_id == "cus_NewFromMetadata"
    assert user.has_active_subscription


def test_a_late_redelivery_of_an_applied_event_changes_nothing(client, customer):
    now = int(time.time())
    first = subscription_event("customer.subscription.updated", created=now - 10)
    second = subscription_event(
        "customer.subscription.updated", created=now, cancel_at_period_end=True
    )
    for event in (first, second, first):  # Stripe retries `first` after `second` landed
        assert delivered(client, event) == Status.PROCESSED
    assert Subscription.objects.get().cancel_at_period_end is True
    stored = WebhookEvent.objects.get(stripe_event_id=first["id"])
    assert stored.attempts == 1
    assert WebhookEvent.objects.count() == 2


# --- events that cannot be applied yet are kept, not dropped ----------------------------------


def test_subscription_before_its_checkout_is_deferred_then_applied(client, user):
    sub_event = subscription_event(customer="cus_NotLinkedYet")
    assert delivered(client, sub_event) == Status.DEFERRED
    assert not Subscription.objects.exists()

    session = load_fixture(
        "checkout_session", customer="cus_NotLinkedYet", client_reference_id=str(user.pk)
    )
    assert deliver(client, make_event("checkout.session.completed", session)).status_code == 200

    assert StripeCustomer.objects.get(user=user).stripe_customer_id == "cus_NotLinkedYet"
    assert Subscription.objects.get().status == "active"
    assert WebhookEvent.objects.get(stripe_event_id=sub_event["id"]).status == Status.PROCESSED
    assert user.has_active_subscription


def test_a_subscription_linking_its_customer_replays_what_waited_for_it(client, user):
    invoice = load_fixture("invoice", customer="cus_LinkedLater", customer_email=None)
    waiting = make_event("invoice.payment_failed", invoice)
    assert delivered(client, waiting) == Status.DEFERRED
    assert not mail.outbox

    linking = subscription_event(customer="cus_LinkedLater", metadata={"user_id": str(user.pk)})
    assert deliver(client, linking).status_code == 200

    assert WebhookEvent.objects.get(stripe_event_id=waiting["id"]).status == Status.PROCESSED
    assert mail.outbox[0].to == [user.email]


def test_checkout_completed_links_the_customer(client, user):
    session = load_fixture("checkout_session", client_reference_id=str(user.pk))
    assert deliver(client, make_event("checkout.session.completed", session)).status_code == 200
    assert user.stripe_customer.stripe_customer_id == "cus_Rtestcustomer001"


# --- failures are recorded and retried --------------------------------------------------------


class BrokenEmailBackend:
    """An SMTP server that is down."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("SMTP server unreachable")


def test_an_smtp_outage_neither_fails_the_event_nor_loses_the_email(client, customer, settings):
    event = make_event("invoice.payment_failed", load_fixture("invoice"))
    settings.EMAIL_BACKEND = f"{__name__}.BrokenEmailBackend"
    response = deliver(client, event)
    assert response.status_code == 200  # the event is applied: the email waits, stored
    assert WebhookEvent.objects.get().status == Status.PROCESSED
    pending = BillingEmail.objects.get()
    assert pending.sent_at is None and "SMTP server unreachable" in pending.last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert deliver(client, event).status_code == 200  # a redelivery sends nothing more
    assert not mail.outbox
    call_command("billing_send_emails")
    call_command("billing_send_emails")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]


def test_an_email_that_cannot_be_stored_fails_the_event_and_sends_nothing(client, customer):
    event = make_event("invoice.payment_failed", load_fixture("invoice"))
    with refusing_inserts(BillingEmail._meta.db_table):
        assert delivered(client, event) == Status.FAILED  # stored, then failed in its task
    assert not mail.outbox
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == (Status.FAILED, 1)

    assert delivered(client, event) == Status.PROCESSED  # a redelivery queues it again
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (Status.PROCESSED, 2)
    assert len(mail.outbox) == 1


def test_a_database_error_mid_event_leaves_nothing_half_written(client, user):
    # The event links a new customer (first write), then creates the subscription (second
    # write), which the database refuses.
    event = subscription_event(customer="cus_Halfway", metadata={"user_id": str(user.pk)})
    with refusing_inserts(Subscription._meta.db_table):
        assert delivered(client, event) == Status.FAILED
    assert not Subscription.objects.exists()
    assert not StripeCustomer.objects.exists()  # the first write was rolled back too
    stored = WebhookEvent.objects.get()
    assert stored.status == Status.FAILED
    assert "refused (test fault)" in stored.last_error

    assert delivered(client, event) == Status.PROCESSED  # Stripe's retry
    assert Subscription.objects.get().customer.stripe_customer_id == "cus_Halfway"


# --- invoices and their emails ----------------------------------------------------------------


def test_payment_failed_emails_the_customer_with_a_link_to_fix_payment(client, customer):
    assert (
        deliver(client, make_event("invoice.payment_failed", load_fixture("invoice"))).status_code
        == 200
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert "Payment failed" in message.subject
    assert "https://invoice.stripe.com/i/acct_test/test_testinvoice0001" in message.body
    assert "$29.00" in message.body and "INV-0001" in message.body
    stored = BillingEmail.objects.get()
    assert (stored.kind, stored.sent_at is not None) == (BillingEmail.Kind.PAYMENT_FAILED, True)


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [("jpy", 2900, "¥2,900"), ("krw", 29000, "₩29,000"), ("eur", 2900, "€29.00")],
)
def test_amounts_in_emails_follow_the_currency(client, customer, currency, amount, shown):
    invoice = load_fixture("invoice", currency=currency, amount_due=amount)
    assert deliver(client, make_event("invoice.payment_failed", invoice)).status_code == 200
    assert shown in mail.outbox[0].body


def test_payment_failed_without_invoice_email_uses_the_linked_user(client, customer):
    invoice = load_fixture("invoice", customer_email=None, hosted_invoice_url=None)
    assert deliver(client, make_event("invoice.payment_failed", invoice)).status_code == 200
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "http://testserver/billing/subscription/" in mail.outbox[0].body


def test_payment_action_required_emails_the_link_to_confirm_the_payment_once(client, customer):
    invoice = load_fixture("invoice", billing_reason="subscription_cycle")
    event = make_event("invoice.payment_action_required", invoice)
    assert deliver(client, event).status_code == 200
    assert deliver(client, event).status_code == 200  # a duplicate delivery
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert "Confirm" in message.subject
    assert "https://invoice.stripe.com/i/acct_test/test_testinvoice0001" in message.body
    assert "$29.00" in message.body
    assert BillingEmail.objects.get().kind == BillingEmail.Kind.PAYMENT_ACTION_REQUIRED


def paid_event(event_type: str, invoice_id: str, created: int, **fields: Any) -> dict[str, Any]:
    invoice = load_fixture(
        "invoice", id=invoice_id, status="paid", amount_paid=2900, created=created, **fields
    )
    return make_event(event_type, invoice, created=created)


def test_a_paid_renewal_starts_its_period_once_whichever_event_comes(client, customer, caplog):
    deliver(client, subscription_event())
    now = int(time.time())
    caplog.set_level("INFO", logger="apps.billing.webhook_handlers")
    for event_type in ("invoice.paid", "invoice.payment_succeeded", "invoice.paid"):
        assert delivered(client, paid_event(event_type, "in_renewal", now)) == Status.PROCESSED
    sub = Subscription.objects.get()
    assert sub.last_paid_invoice_id == "in_renewal"
    starts = [r for r in caplog.records if "a new billing period starts" in r.getMessage()]
    assert len(starts) == 1


def test_an_invoice_paid_out_of_band_alone_starts_the_period(client, customer):
    deliver(client, subscription_event())
    deliver(client, paid_event("invoice.paid", "in_out_of_band", int(time.time())))
    assert Subscription.objects.get().last_paid_invoice_id == "in_out_of_band"


def test_a_late_paid_event_of_an_older_invoice_changes_nothing(client, customer):
    deliver(client, subscription_event())
    now = int(time.time())
    deliver(client, paid_event("invoice.paid", "in_newer", now))
    deliver(client, paid_event("invoice.payment_succeeded", "in_older", now - 86400 * 30))
    assert Subscription.objects.get().last_paid_invoice_id == "in_newer"


def test_a_paid_proration_invoice_starts_no_period(client, customer):
    deliver(client, subscription_event())
    event = paid_event(
        "invoice.paid", "in_proration", int(time.time()), billing_reason="subscription_update"
    )
    assert deliver(client, event).status_code == 200
    assert Subscription.objects.get().last_paid_invoice_id == ""


def test_payment_succeeded_reads_the_subscription_from_the_invoice_parent(client, customer):
    from apps.billing.stripe_objects import invoice_subscription_id

    invoice = load_fixture("invoice", status="paid", amount_paid=2900)
    assert invoice_subscription_id(invoice) == "sub_1QtestSubscription01"
    legacy = {"subscription": "sub_legacy", "parent": None}
    assert invoice_subscription_id(legacy) == "sub_legacy"
    response = deliver(client, make_event("invoice.payment_succeeded", invoice))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == Status.PROCESSED


def test_unhandled_event_types_are_stored_and_ignored(client):
    event = make_event("customer.created", {"id": "cus_X", "object": "customer"})
    response = deliver(client, event)
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == Status.IGNORED


def test_a_hand_made_event_without_id_or_created_is_stored_once(client, customer):
    # The documented own example payload: no id, no created. Stripe always sends both.
    event = {
        "type": "customer.subscription.created",
        "data": {"object": load_fixture("subscription")},
    }
    assert deliver(client, event).status_code == 200
    assert deliver(client, event).status_code == 200  # the same body again: a duplicate
    stored = WebhookEvent.objects.get()
    assert stored.stripe_event_id.startswith("evt_body_")
    assert Subscription.objects.get().status == "active"


# --- trials -----------------------------------------------------------------------------------


def trial_will_end(**fields: Any) -> dict[str, Any]:
    trial_end = int(time.time()) + 3 * 86400
    obj = load_fixture("subscription", status="trialing", trial_end=trial_end, **fields)
    return make_event("customer.subscription.trial_will_end", obj)


def test_trial_will_end_sends_one_reminder(client, customer):
    event = trial_will_end()
    assert deliver(client, event).status_code == 200
    assert deliver(client, event).status_code == 200  # a duplicate delivery
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert "trial" in message.subject.lower()
    assert "Pro" in message.body
    assert "http://testserver/billing/subscription/" in message.body
    assert BillingEmail.objects.get().kind == BillingEmail.Kind.TRIAL_WILL_END


def test_trial_reminders_can_be_turned_off(client, customer, settings):
    settings.BILLING_TRIAL_REMINDER_EMAILS = False
    assert delivered(client, trial_will_end()) == Status.IGNORED
    assert "BILLING_TRIAL_REMINDER_EMAILS" in WebhookEvent.objects.get().last_error
    assert not mail.outbox and not BillingEmail.objects.exists()


def test_a_trial_reminder_waits_for_its_customer_to_be_linked(client, user):
    waiting = trial_will_end(customer="cus_NotYetLinked")
    assert delivered(client, waiting) == Status.DEFERRED
    session = load_fixture(
        "checkout_session", customer="cus_NotYetLinked", client_reference_id=str(user.pk)
    )
    deliver(client, make_event("checkout.session.completed", session))
    assert WebhookEvent.objects.get(stripe_event_id=waiting["id"]).status == Status.PROCESSED
    assert mail.outbox[0].to == [user.email]


# --- deleted customers ------------------------------------------------------------------------


def customer_deleted(customer_id: str = "cus_Rtestcustomer001") -> dict[str, Any]:
    return make_event(
        "customer.deleted", {"id": customer_id, "object": "customer", "email": "a@example.com"}
    )


def test_a_deleted_customer_is_unlinked_and_the_user_can_start_over(client, customer):
    now = int(time.time())
    deliver(client, subscription_event(created=now - 10))
    deliver(
        client,
        subscription_event("customer.subscription.deleted", created=now - 5, status="canceled"),
    )
    assert delivered(client, customer_deleted()) == Status.PROCESSED

    user = type(customer.user).objects.get(pk=customer.user.pk)
    assert get_customer(user) is None  # checkout makes a new customer
    customer.refresh_from_db()
    assert (customer.user, customer.former_user, customer.unlinked_at is not None) == (
        None,
        user,
        True,
    )
    assert [sub.stripe_subscription_id for sub in subscription_history(user)] == [
        "sub_1QtestSubscription01"
    ]


def test_events_arriving_after_the_customer_was_deleted_are_applied_not_deferred(client, customer):
    now = int(time.time())
    deliver(client, subscription_event(created=now - 10))
    deliver(client, customer_deleted())
    late = subscription_event("customer.subscription.deleted", created=now - 5, status="canceled")
    assert delivered(client, late) == Status.PROCESSED
    assert Subscription.objects.get().status == "canceled"
    failed = make_event("invoice.payment_failed", load_fixture("invoice"))
    assert delivered(client, failed) == Status.IGNORED  # nobody to email
    assert not mail.outbox


def test_events_waiting_for_a_customer_that_gets_deleted_stop_waiting(client):
    waiting = subscription_event(customer="cus_NeverLinked", status="canceled")
    assert delivered(client, waiting) == Status.DEFERRED
    deliver(client, customer_deleted("cus_NeverLinked"))
    assert WebhookEvent.objects.get(stripe_event_id=waiting["id"]).status == Status.PROCESSED
    assert not WebhookEvent.objects.filter(status=Status.DEFERRED).exists()
    assert StripeCustomer.objects.get().user is None


# --- test mode and live mode ------------------------------------------------------------------


def test_a_test_event_changes_nothing_while_a_live_key_is_configured(client, customer, settings):
    settings.STRIPE_SECRET_KEY = "sk_live_" + "x" * 24
    assert delivered(client, subscription_event()) == Status.IGNORED
    assert "test-mode event" in WebhookEvent.objects.get().last_error
    assert not Subscription.objects.exists()


def test_a_live_event_changes_nothing_with_a_test_key(client, customer):
    event = make_event("invoice.payment_failed", load_fixture("invoice", livemode=True))
    event["livemode"] = True
    assert delivered(client, event) == Status.IGNORED
    assert "live-mode event" in WebhookEvent.objects.get().last_error
    assert not mail.outbox


def test_a_live_event_applies_with_a_live_key(client, customer, settings):
    settings.STRIPE_SECRET_KEY = "rk_live_" + "x" * 24
    event = subscription_event()
    event["livemode"] = True
    assert delivered(client, event) == Status.PROCESSED
    assert Subscription.objects.get().status == "active"


# --- plans, cancellations, second subscriptions -----------------------------------------------


def test_the_plan_is_found_on_any_item_of_the_subscription(client, customer):
    obj = load_fixture("subscription")
    plan_item = obj["items"]["data"][0]
    addon = {
        **plan_item,
        "id": "si_addon",
        "price": {**plan_item["price"], "id": "price_addon_seats", "nickname": "Extra seats"},
        "quantity": 5,
    }
    obj["items"]["data"] = [addon, plan_item]  # the add-on first
    assert deliver(client, make_event("customer.subscription.created", obj)).status_code == 200
    sub = Subscription.objects.get()
    assert (sub.price_id, sub.plan_name, sub.quantity) == ("price_test_123", "Pro", 1)
    assert sub.plan.slug == "pro"


def test_cancel_at_from_the_portal_in_flexible_billing_mode_shows_when_access_ends(
    client, customer
):
    now = int(time.time())
    deliver(client, subscription_event(created=now - 10))
    ends = now + 10 * 86400
    event = subscription_event(
        "customer.subscription.updated",
        created=now,
        cancel_at=ends,
        cancel_at_period_end=False,
        billing_mode={"flexible": {}, "type": "flexible"},
    )
    deliver(client, event)
    sub = Subscription.objects.get()
    assert sub.cancel_at == datetime.fromtimestamp(ends, tz=UTC)
    assert cancels_at(sub) == sub.cancel_at
    assert renews_at(sub) is None
    assert customer.user.has_active_subscription  # until then


def test_a_second_live_subscription_is_logged_and_left_for_staff(client, customer, caplog):
    deliver(client, subscription_event())
    second = subscription_event(id="sub_1QtestSubscription02")
    with caplog.at_level("ERROR", logger="apps.billing.webhook_handlers"):
        assert deliver(client, second).status_code == 200
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "sub_1QtestSubscription01" in record.getMessage()
    assert "sub_1QtestSubscription02" in record.getMessage()
    assert list(Subscription.objects.values_list("status", flat=True)) == ["active", "active"]


def test_a_new_subscription_after_a_canceled_one_is_no_error(client, customer, caplog):
    now = int(time.time())
    deliver(client, subscription_event(created=now - 10, status="canceled"))
    with caplog.at_level("ERROR", logger="apps.billing.webhook_handlers"):
        deliver(client, subscription_event(id="sub_1QtestSubscription02"))
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
