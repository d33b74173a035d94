"""/djstripe/webhook/ driven the way Stripe drives it: events made by the offline Stripe,
signed with a real HMAC, forged, stale, duplicated and failing. The request stores the event
and queues it; the worker's processing (in-process here, as without a broker) applies it."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import pytest
import stripe
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from djstripe.models import Customer, Event, WebhookEndpoint, WebhookEventTrigger

from apps.billing import webhooks
from apps.billing.emails import BillingEmail
from apps.billing.models import IgnoredEvent, Subscription, SubscriptionMetadata, WebhookEvent
from apps.billing.selectors import get_active_subscription
from apps.billing.services import forget_customer
from apps.billing.stripe_objects import invoice_subscription_id
from apps.billing.tasks import process_webhook_event, requeue_webhook_events
from apps.billing.webhooks import ENV_ENDPOINT_ID
from tests.db_faults import refusing_inserts
from tests.stripe_events import sign

from . import factories
from .conftest import WEBHOOK_SECRET, WEBHOOK_URL

pytestmark = pytest.mark.django_db
DEAD_API = "http://127.0.0.1:9"  # nothing listens on the discard port


@pytest.fixture
def post(post_webhook):
    """post(body, ...): a signed delivery, then the worker's processing of what it stored."""
    return post_webhook


def post_status(client, body, header):
    response = client.post(
        WEBHOOK_URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    return response.status_code


@pytest.fixture
def subscription_created(stripe_fake, catalog, user):
    """The customer.subscription.created event of a real (fake) subscription, as JSON bytes."""
    factories.stripe_subscription(user=user, plan=catalog["pro"])
    event = stripe_fake.events("customer.subscription.created")[-1]
    return json.dumps(event).encode()


def nothing_stored():
    return (
        not WebhookEvent.objects.exists()
        and not WebhookEventTrigger.objects.exists()
        and not Event.objects.exists()
    )


def test_the_webhook_url_is_the_documented_one():
    assert reverse("djstripe_webhook") == "/djstripe/webhook/"


def test_the_documented_webhook_test_with_a_real_signature(
    stripe_fake, catalog, user, django_capture_on_commit_callbacks
):
    """The documented "Webhook Tests (Advanced Mode)": a real signature replaces its patch of
    stripe.Webhook.construct_event, and the event is a real one (dj-stripe re-fetches it).
    The processing runs once the request's transaction commits (here: in-process)."""
    client = Client()
    factories.stripe_subscription(user=user, plan=catalog["pro"])
    payload = stripe_fake.events("customer.subscription.created")[-1]
    assert payload["type"] == "customer.subscription.created"
    body = json.dumps(payload)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/djstripe/webhook/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body.encode(), secret=WEBHOOK_SECRET),
        )

    assert response.status_code == 200

    # Verify event was created
    assert Event.objects.filter(type="customer.subscription.created").exists()
    assert SubscriptionMetadata.objects.filter(subscription_id=payload["data"]["object"]["id"])


# --- refused: 400 (or 503) and nothing stored ---------------------------------------------------


def test_missing_signature_header(client, subscription_created):
    response = client.post(WEBHOOK_URL, data=subscription_created, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "Missing Stripe-Signature header."}
    assert nothing_stored()


def test_wrong_secret(post, subscription_created):
    response = post(subscription_created, secret="whsec_wrong")
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "Invalid signature: No signatures found matching the expected signature"
    )
    assert nothing_stored()


def test_tampered_body(client, subscription_created):
    header = sign(subscription_created, secret=WEBHOOK_SECRET)
    tampered = subscription_created.replace(b'"livemode": false', b'"livemode": true')
    assert tampered != subscription_created
    assert post_status(client, tampered, header) == 400
    assert nothing_stored()


def test_stale_timestamp(post, settings, subscription_created):
    stale = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE - 10
    response = post(subscription_created, timestamp=stale)
    assert response.status_code == 400
    assert response.json() == {
        "error": f"Invalid signature: Timestamp outside the tolerance zone ({stale})"
    }
    assert nothing_stored()


@pytest.mark.parametrize("header", ["", "garbage", "t=notanumber,v1=abc", "v1=" + "0" * 64])
def test_malformed_signature_header(client, subscription_created, header):
    assert post_status(client, subscription_created, header) == 400
    assert nothing_stored()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "The body is not valid JSON."),
        (b"\xff\xfe", "Malformed webhook request."),
        (b"not json", "The body is not valid JSON."),
        (b"[]", "The body is not a Stripe event."),
        (b'{"id": "evt_1"}', "The event has no valid type."),
    ],
)
def test_signed_garbage_is_refused_without_a_500(post, body, reason):
    response = post(body)
    assert response.status_code == 400
    assert response.json() == {"error": reason}
    assert nothing_stored()


def test_no_secret_configured_answers_503(post, settings, subscription_created):
    settings.DJSTRIPE_WEBHOOK_SECRET = ""
    response = post(subscription_created)
    assert response.status_code == 503
    assert response.json() == {"error": "Set DJSTRIPE_WEBHOOK_SECRET to receive Stripe webhooks."}
    assert nothing_stored()


def test_the_debug_secret_header_is_not_a_backdoor(post, settings, subscription_created):
    """dj-stripe lets X-Djstripe-Webhook-Secret replace the secret when DEBUG is on."""
    settings.DEBUG = True
    forged = post(
        subscription_created,
        secret="whsec_attacker",
        HTTP_X_DJSTRIPE_WEBHOOK_SECRET="whsec_attacker",
    )
    assert forged.status_code == 400
    assert nothing_stored()
    # A genuine delivery carrying the header is verified with the real secret only.
    genuine = post(subscription_created, HTTP_X_DJSTRIPE_WEBHOOK_SECRET="whsec_attacker")
    assert genuine.status_code == 200
    trigger = WebhookEventTrigger.objects.get()
    assert "X-Djstripe-Webhook-Secret" not in trigger.headers
    assert trigger.processed  # the worker did not read the header either


# --- accepted -----------------------------------------------------------------------------------


def test_the_request_stores_the_event_and_the_worker_applies_it(
    client, monkeypatch, subscription_created, django_capture_on_commit_callbacks
):
    event_id = json.loads(subscription_created)["id"]
    header = sign(subscription_created, secret=WEBHOOK_SECRET)
    with monkeypatch.context() as request_time:
        # The request never calls Stripe: with Stripe unreachable it still stores the event.
        request_time.setattr(stripe, "api_base", DEAD_API)
        with django_capture_on_commit_callbacks() as queued:
            response = client.post(
                WEBHOOK_URL,
                data=subscription_created,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )
    assert response.status_code == 200
    assert response.json() == {"received": event_id}
    stored = WebhookEvent.objects.get()
    assert (stored.stripe_event_id, stored.type) == (event_id, "customer.subscription.created")
    assert stored.status == WebhookEvent.Status.RECEIVED and stored.attempts == 0
    assert stored.trigger.valid and not stored.trigger.processed
    assert stored.trigger.webhook_endpoint.id == ENV_ENDPOINT_ID
    assert json.loads(stored.trigger.body) == json.loads(subscription_created)
    assert not Event.objects.exists() and not SubscriptionMetadata.objects.exists()
    assert len(queued) == 1  # its processing, queued for once the request has committed

    queued[0]()  # the worker runs it (dj-stripe re-fetches the subscription from Stripe)
    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.PROCESSED and stored.attempts == 1
    assert stored.processed_at is not None and stored.next_attempt_at is None
    assert stored.trigger.processed and stored.trigger.event_id == event_id
    assert Event.objects.get().id == event_id
    assert SubscriptionMetadata.objects.count() == 1


def test_duplicate_deliveries_are_stored_once_and_have_one_effect(post, subscription_created):
    event_id = json.loads(subscription_created)["id"]
    answers = [post(subscription_created).json() for _ in range(3)]
    assert answers == [{"received": event_id}] + [{"duplicate": event_id}] * 2
    assert WebhookEvent.objects.count() == 1
    assert WebhookEventTrigger.objects.count() == 1  # a duplicate stores nothing
    assert Event.objects.count() == 1
    assert SubscriptionMetadata.objects.count() == 1
    assert WebhookEvent.objects.get().attempts == 1  # a done event is not queued again


def test_a_rotated_secret_takes_effect_on_the_next_delivery(post, settings, subscription_created):
    assert post(subscription_created).status_code == 200
    settings.DJSTRIPE_WEBHOOK_SECRET = "whsec_rotated"
    assert post(subscription_created).status_code == 400
    assert post(subscription_created, secret="whsec_rotated").status_code == 200
    assert WebhookEndpoint.objects.get(id=ENV_ENDPOINT_ID).secret == "whsec_rotated"


@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_a_process_reads_the_endpoint_row_once_a_minute_and_writes_it_again_if_removed(
    post, stripe_fake, catalog, user, other_user, monkeypatch
):
    reads = []
    endpoint_values = webhooks.fast_sql.endpoint_values
    monkeypatch.setattr(
        webhooks.fast_sql,
        "endpoint_values",
        lambda *args: reads.append(args) or endpoint_values(*args),
    )

    def new_event(customer) -> bytes:
        factories.stripe_subscription(user=customer, plan=catalog["pro"])
        return json.dumps(stripe_fake.events("customer.subscription.created")[-1]).encode()

    first = new_event(user)
    assert post(first).status_code == 200
    assert len(reads) == 1  # the first delivery of this process reads (and writes) the row
    assert post(first).status_code == 200  # a redelivery within the minute: no read
    assert len(reads) == 1

    WebhookEndpoint.objects.filter(id=ENV_ENDPOINT_ID).delete()  # removed in the admin, say
    assert post(new_event(other_user)).status_code == 200  # stored: the row written again
    assert WebhookEndpoint.objects.filter(id=ENV_ENDPOINT_ID).exists()
    assert WebhookEvent.objects.count() == WebhookEventTrigger.objects.count() == 2
    assert len(reads) == 2

    monkeypatch.setattr(webhooks, "ENDPOINT_CHECK_SECONDS", 0.0)  # a minute later
    assert post(first).status_code == 200
    assert len(reads) == 3


def test_the_settings_endpoint_row_follows_the_settings(post, settings, subscription_created):
    """dj-stripe reads secrets, tolerance and mode from WebhookEndpoint rows only: the row of
    DJSTRIPE_WEBHOOK_SECRET says what the settings say, and follows their changes."""

    def row():
        endpoint = WebhookEndpoint.objects.get(id=ENV_ENDPOINT_ID)
        return (
            endpoint.secret,
            endpoint.livemode,
            endpoint.url,
            endpoint.enabled_events,
            endpoint.status,
            endpoint.api_version,
            endpoint.djstripe_validation_method,
            endpoint.djstripe_tolerance,
        )

    assert post(subscription_created).status_code == 200
    assert row() == (
        WEBHOOK_SECRET,
        False,
        "http://testserver/djstripe/webhook/",
        ["*"],
        "enabled",
        settings.STRIPE_API_VERSION,
        "verify_signature",
        300,
    )
    settings.SITE_URL = "https://app.example.com/"
    settings.STRIPE_WEBHOOK_TOLERANCE = 60
    assert post(subscription_created).status_code == 200  # a redelivery: the row is updated
    url, tolerance = row()[2], row()[7]
    assert (url, tolerance) == ("https://app.example.com/djstripe/webhook/", 60)


def test_dj_stripe_uuid_endpoints_keep_working(post, subscription_created):
    endpoint = WebhookEndpoint.objects.create(
        id="we_dashboard_endpoint",
        secret="whsec_dashboard",
        url="https://example.com/djstripe/webhook/uuid/",
        enabled_events=["*"],
        status="enabled",
        livemode=False,
        stripe_data={},
    )
    url = reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint.djstripe_uuid})
    assert url == f"/djstripe/webhook/{endpoint.djstripe_uuid}/"
    assert post(subscription_created, url=url, secret="whsec_dashboard").status_code == 200
    assert Event.objects.count() == 1
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_an_unknown_uuid_endpoint_is_a_json_404(post, subscription_created):
    url = "/djstripe/webhook/00000000-0000-4000-8000-000000000000/"
    response = post(subscription_created, url=url, secret="whsec_dashboard")
    assert response.status_code == 404
    assert response.json() == {"error": "No such webhook endpoint."}
    assert WebhookEventTrigger.objects.count() == WebhookEvent.objects.count() == 0


@pytest.fixture
def payment_failed(stripe_fake, catalog, user):
    """The invoice.payment_failed event of a failed renewal, as JSON bytes."""
    subscription = factories.stripe_subscription(user=user, plan=catalog["pro"])
    factories.fail_next_payments(subscription.customer)
    stripe_fake.advance(days=31)
    return json.dumps(stripe_fake.events("invoice.payment_failed")[-1]).encode()


def test_a_failing_event_is_kept_with_its_error_and_applied_when_processed_again(
    post, payment_failed, django_capture_on_commit_callbacks
):
    with refusing_inserts(BillingEmail._meta.db_table):
        response = post(payment_failed)
    assert response.status_code == 200  # stored: from here on it is the worker's to apply
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.FAILED and stored.attempts == 1
    # The error as staff see it: its kind (PostgreSQL's or SQLite's), then its message.
    kind, _, message = stored.last_error.partition(": ")
    assert kind in {"ProgrammingError", "IntegrityError"}, stored.last_error
    assert message.startswith(f"insert into {BillingEmail._meta.db_table} refused (test fault)")
    # In-process there is no retry: it waits for staff (or a worker's periodic retry).
    assert stored.next_attempt_at is None
    trigger = stored.trigger
    assert not trigger.processed and "refused" in trigger.exception
    assert "Traceback" in trigger.traceback  # dj-stripe's admin shows it
    assert not Event.objects.exists()  # rolled back: nothing half-applied
    assert not BillingEmail.objects.exists() and not mail.outbox

    # A redelivery of an event that is not done queues it again.
    assert post(payment_failed).json() == {"duplicate": stored.stripe_event_id}
    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.PROCESSED and stored.attempts == 2
    assert stored.last_error == ""
    trigger.refresh_from_db()
    assert trigger.processed and trigger.exception == "" and trigger.traceback == ""
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_webhook_events([stored.pk]) == 0  # done: nothing to process again
    assert post(payment_failed).status_code == 200
    assert len(mail.outbox) == 1 and BillingEmail.objects.get().sent_at is not None


def test_a_failed_event_retries_with_growing_delays_then_waits_for_staff(payment_failed, post):
    """The worker's retries (not in-process ones): each failure records when the next attempt
    is due; after the last one the event stays failed for staff. Run through Celery's own
    retry, with the in-memory broker holding the retries."""
    from celery.exceptions import Retry

    from apps.billing.tasks import MAX_RETRIES, retry_delay
    from config.celery import app

    with refusing_inserts(BillingEmail._meta.db_table):
        post(payment_failed)
        stored = WebhookEvent.objects.get()
        delays = []
        app.conf.task_always_eager = False
        try:
            for retries in range(MAX_RETRIES + 1):
                started = timezone.now()
                # What a worker's request holds (a direct call cannot retry).
                process_webhook_event.push_request(
                    id=f"attempt-{retries}",
                    args=[stored.pk],
                    kwargs={},
                    retries=retries,
                    called_directly=False,
                )
                try:
                    process_webhook_event.run(stored.pk)
                except Retry as retry:
                    delays.append(retry.when)
                finally:
                    process_webhook_event.pop_request()
                stored.refresh_from_db()
                if retries < MAX_RETRIES:  # the attempt records when the retry is due
                    due = timedelta(seconds=retry_delay(retries))
                    assert started + due <= stored.next_attempt_at <= timezone.now() + due
        finally:
            app.conf.task_always_eager = True
            with app.connection_for_write() as connection:
                published = connection.default_channel.queue_purge(app.conf.task_default_queue)
    assert delays == [30, 60, 120, 240, 480, 960, 1800, 1800]
    assert published == MAX_RETRIES  # each retry was sent to the broker, to run when due
    assert stored.status == WebhookEvent.Status.FAILED
    assert stored.attempts == MAX_RETRIES + 2  # the in-process attempt, then the worker's
    assert stored.next_attempt_at is None  # given up: staff process it again


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        ({"parent": {"subscription_details": {"subscription": "sub_new"}}}, "sub_new"),
        ({"parent": {"subscription_details": {"subscription": {"id": "sub_x"}}}}, "sub_x"),
        ({"subscription": "sub_old"}, "sub_old"),  # API versions before 2025-03-31
        ({"parent": None, "subscription": None}, ""),
        ({"parent": {"type": "quote_details", "subscription_details": None}}, ""),
    ],
)
def test_an_invoice_names_its_subscription_under_parent(invoice, expected):
    assert invoice_subscription_id(invoice) == expected


def test_a_deletion_that_stripe_still_shows_active_revokes_access(
    post, user, subscription_created, caplog
):
    """dj-stripe re-fetches the subscription when its deletion arrives, and Stripe may answer
    with an older state (here: still active, as a lagging read would): a deleted subscription
    never comes back, so the event's status wins and access ends."""
    assert post(subscription_created).status_code == 200
    subscription = get_active_subscription(user)
    assert subscription is not None
    deleted = json.loads(subscription_created)
    deleted.update(id="evt_deleted_read_early", type="customer.subscription.deleted")
    deleted["created"] += 1
    deleted["data"]["object"]["status"] = "canceled"
    with caplog.at_level(logging.INFO, logger="apps.billing.webhook_handlers"):
        assert post(json.dumps(deleted).encode()).status_code == 200
    assert get_active_subscription(user) is None
    assert Subscription.objects.get(id=subscription.id).status == "canceled"
    assert f"Subscription {subscription.id} canceled: access revoked" in caplog.messages


# --- events that are recorded and not applied ---------------------------------------------------


def relabel(body: bytes, *, live: bool) -> bytes:
    """The same event as Stripe's other mode would send it (signed again below)."""
    event = json.loads(body)
    event["livemode"] = live
    event["data"]["object"]["livemode"] = live
    return json.dumps(event).encode()


def test_a_test_mode_event_never_changes_a_live_project(post, settings, subscription_created):
    settings.STRIPE_LIVE_MODE = True
    response = post(subscription_created)
    assert response.status_code == 200  # Stripe stops sending it
    ignored = IgnoredEvent.objects.get()
    assert ignored.stripe_event_id == json.loads(subscription_created)["id"]
    assert ignored.type == "customer.subscription.created" and ignored.livemode is False
    assert "Test-mode event" in ignored.reason and "live-mode" in ignored.reason
    assert response.json() == {"ignored": ignored.reason}
    assert nothing_stored()  # dj-stripe never saw it
    assert not SubscriptionMetadata.objects.exists()
    assert post(subscription_created).status_code == 200  # a redelivery: one record
    assert IgnoredEvent.objects.count() == 1


def test_a_live_event_never_changes_a_test_project(post, subscription_created, caplog):
    live = relabel(subscription_created, live=True)
    with caplog.at_level(logging.WARNING, logger="apps.billing.webhook_handlers"):
        assert post(live).status_code == 200
    ignored = IgnoredEvent.objects.get()
    assert ignored.livemode is True
    assert ignored.reason == (
        "Live-mode event received while the project uses test-mode Stripe (STRIPE_LIVE_MODE): "
        "not applied."
    )
    # Staff reading the log learn which event and why.
    assert f"Stripe event {ignored.stripe_event_id} ignored: {ignored.reason}" in caplog.messages
    assert nothing_stored()
    assert not SubscriptionMetadata.objects.exists()
    # The event of this project's mode is applied as usual.
    assert post(subscription_created).status_code == 200
    assert SubscriptionMetadata.objects.count() == 1


@pytest.fixture
def customer_updated_then_deleted(user, stripe_fake, catalog):
    """A customer changed, then deleted at Stripe: the two events, as JSON bytes."""
    customer = factories.stripe_customer(user=user)
    stripe_fake.deliver()
    stripe.Customer.modify(customer.id, name="Alice", api_key=stripe_fake.api_key)
    updated = json.dumps(stripe_fake.events("customer.updated")[-1]).encode()
    stripe.Customer.delete(customer.id, api_key=stripe_fake.api_key)
    deleted = json.dumps(stripe_fake.events("customer.deleted")[-1]).encode()
    return customer, updated, deleted


def test_a_change_to_a_customer_deleted_since_is_ignored_not_retried(
    post, customer_updated_then_deleted
):
    customer, updated, deleted = customer_updated_then_deleted
    assert post(deleted).status_code == 200
    assert Customer.objects.get(id=customer.id).subscriber is None
    # The update arrives late: Stripe cannot give the customer back any more.
    assert post(updated).status_code == 200
    assert IgnoredEvent.objects.get().reason == (
        "The customer was deleted at Stripe since: its earlier changes no longer apply."
    )


def test_only_the_deleted_customers_changes_are_ignored(
    post, customer_updated_then_deleted, other_user, stripe_fake
):
    """Another customer's deletion leaves this one's changes applied; and the deletion of a
    customer the app unlinked first (here: found gone when its user came back) is applied,
    not ignored."""
    gone, updated, deleted = customer_updated_then_deleted
    forget_customer(gone.id)  # the app noticed first
    customer = factories.stripe_customer(user=other_user)
    stripe_fake.deliver()  # the gone customer's change and deletion too
    stripe.Customer.modify(customer.id, name="Bob", api_key=stripe_fake.api_key)
    assert post(json.dumps(stripe_fake.events("customer.updated")[-1]).encode()).json() == {
        "received": stripe_fake.events("customer.updated")[-1]["id"]
    }
    assert post(deleted).status_code == 200
    statuses = dict(WebhookEvent.objects.values_list("stripe_event_id", "status"))
    assert statuses[stripe_fake.events("customer.updated")[-1]["id"]] == "processed"
    assert statuses[json.loads(deleted)["id"]] == "processed"
    ignored = IgnoredEvent.objects.values_list("stripe_event_id", flat=True)
    assert list(ignored) == [json.loads(updated)["id"]]  # the gone customer's change only


def test_a_change_stored_before_its_customers_deletion_is_ignored_by_the_worker(
    client, customer_updated_then_deleted, django_capture_on_commit_callbacks
):
    """Both events are stored before either is applied, and the worker gets the deletion
    first: the change is then ignored (recorded, done), not failed on every retry."""
    customer, updated, deleted = customer_updated_then_deleted
    with django_capture_on_commit_callbacks() as queued:
        for body in (updated, deleted):
            header = sign(body, secret=WEBHOOK_SECRET)
            assert post_status(client, body, header) == 200
    assert len(queued) == 2
    queued[1]()  # customer.deleted
    queued[0]()  # customer.updated
    statuses = dict(
        WebhookEvent.objects.filter(type__in=["customer.updated", "customer.deleted"]).values_list(
            "type", "status"
        )
    )
    assert statuses == {"customer.deleted": "processed", "customer.updated": "ignored"}
    assert "deleted at Stripe" in IgnoredEvent.objects.get().reason
    assert WebhookEvent.objects.get(type="customer.updated").trigger.processed
    assert Customer.objects.get(id=customer.id).subscriber is None
