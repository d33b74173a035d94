"""/djstripe/webhook/ driven the way Stripe drives it: events made by the offline Stripe,
signed with a real HMAC, forged, stale, duplicated and failing."""

from __future__ import annotations

import json
import time

import pytest
import stripe
from django.core import mail
from django.test import Client
from django.urls import reverse
from djstripe.models import Customer, Event, WebhookEndpoint, WebhookEventTrigger

from apps.billing.emails import BillingEmail
from apps.billing.models import IgnoredEvent, SubscriptionMetadata
from apps.billing.stripe_objects import invoice_subscription_id
from apps.billing.webhooks import ENV_ENDPOINT_ID
from tests.db_faults import refusing_inserts
from tests.stripe_events import sign

from . import factories
from .conftest import WEBHOOK_SECRET, WEBHOOK_URL

pytestmark = pytest.mark.django_db


def post(client, body, *, url=WEBHOOK_URL, secret=WEBHOOK_SECRET, timestamp=None, **headers):
    return client.post(
        url,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, secret=secret, timestamp=timestamp),
        **headers,
    )


@pytest.fixture
def subscription_created(stripe_fake, catalog, user):
    """The customer.subscription.created event of a real (fake) subscription, as JSON bytes."""
    factories.stripe_subscription(user=user, plan=catalog["pro"])
    event = stripe_fake.events("customer.subscription.created")[-1]
    return json.dumps(event).encode()


def nothing_stored():
    return not WebhookEventTrigger.objects.exists() and not Event.objects.exists()


def test_the_webhook_url_is_the_documented_one():
    assert reverse("djstripe_webhook") == "/djstripe/webhook/"


def test_the_documented_webhook_test_with_a_real_signature(stripe_fake, catalog, user):
    """The documented "Webhook Tests (Advanced Mode)": a real signature replaces its patch of
    stripe.Webhook.construct_event, and the event is a real one (dj-stripe re-fetches it)."""
    client = Client()
    factories.stripe_subscription(user=user, plan=catalog["pro"])
    payload = stripe_fake.events("customer.subscription.created")[-1]
    assert payload["type"] == "customer.subscription.created"
    body = json.dumps(payload)

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
    assert nothing_stored()


def test_wrong_secret(client, subscription_created):
    assert post(client, subscription_created, secret="whsec_wrong").status_code == 400
    assert nothing_stored()


def test_tampered_body(client, subscription_created):
    header = sign(subscription_created, secret=WEBHOOK_SECRET)
    tampered = subscription_created.replace(b'"livemode": false', b'"livemode": true')
    assert tampered != subscription_created
    response = client.post(
        WEBHOOK_URL, data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    assert nothing_stored()


def test_stale_timestamp(client, settings, subscription_created):
    stale = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE - 10
    assert post(client, subscription_created, timestamp=stale).status_code == 400
    assert nothing_stored()


@pytest.mark.parametrize("header", ["", "garbage", "t=notanumber,v1=abc", "v1=" + "0" * 64])
def test_malformed_signature_header(client, subscription_created, header):
    response = client.post(
        WEBHOOK_URL,
        data=subscription_created,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
    assert response.status_code == 400
    assert nothing_stored()


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"not json", b"[]", b'{"id": "evt_1"}'])
def test_signed_garbage_is_refused_without_a_500(client, body):
    response = post(client, body)
    assert response.status_code == 400
    assert not Event.objects.exists()


def test_no_secret_configured_answers_503(client, settings, subscription_created):
    settings.DJSTRIPE_WEBHOOK_SECRET = ""
    assert post(client, subscription_created).status_code == 503
    assert nothing_stored()


def test_the_debug_secret_header_is_not_a_backdoor(client, settings, subscription_created):
    """dj-stripe lets X-Djstripe-Webhook-Secret replace the secret when DEBUG is on."""
    settings.DEBUG = True
    forged = post(
        client,
        subscription_created,
        secret="whsec_attacker",
        HTTP_X_DJSTRIPE_WEBHOOK_SECRET="whsec_attacker",
    )
    assert forged.status_code == 400
    assert nothing_stored()
    # A genuine delivery carrying the header is verified with the real secret only.
    genuine = post(client, subscription_created, HTTP_X_DJSTRIPE_WEBHOOK_SECRET="whsec_attacker")
    assert genuine.status_code == 200
    assert "X-Djstripe-Webhook-Secret" not in WebhookEventTrigger.objects.get().headers


# --- accepted -----------------------------------------------------------------------------------


def test_a_signed_event_is_processed_through_dj_stripe(client, subscription_created):
    response = post(client, subscription_created)
    assert response.status_code == 200
    trigger = WebhookEventTrigger.objects.get()
    assert trigger.valid and trigger.processed
    assert trigger.webhook_endpoint.id == ENV_ENDPOINT_ID
    assert response.json() == {"trigger": str(trigger.pk)}
    event = Event.objects.get()
    assert trigger.event == event
    assert SubscriptionMetadata.objects.count() == 1


def test_duplicate_deliveries_have_one_effect(client, subscription_created):
    assert [post(client, subscription_created).status_code for _ in range(3)] == [200] * 3
    assert Event.objects.count() == 1
    assert SubscriptionMetadata.objects.count() == 1
    assert WebhookEventTrigger.objects.count() == 3  # every delivery is logged


def test_a_rotated_secret_takes_effect_on_the_next_delivery(client, settings, subscription_created):
    assert post(client, subscription_created).status_code == 200
    settings.DJSTRIPE_WEBHOOK_SECRET = "whsec_rotated"
    assert post(client, subscription_created).status_code == 400
    assert post(client, subscription_created, secret="whsec_rotated").status_code == 200
    assert WebhookEndpoint.objects.get(id=ENV_ENDPOINT_ID).secret == "whsec_rotated"


def test_dj_stripe_uuid_endpoints_keep_working(client, subscription_created):
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
    assert post(client, subscription_created, url=url, secret="whsec_dashboard").status_code == 200
    assert Event.objects.count() == 1


def test_a_failing_receiver_answers_500_and_the_retry_applies_it(
    client, stripe_fake, catalog, user, django_capture_on_commit_callbacks
):
    subscription = factories.stripe_subscription(user=user, plan=catalog["pro"])
    factories.fail_next_payments(subscription.customer)
    stripe_fake.advance(days=31)
    failed = json.dumps(stripe_fake.events("invoice.payment_failed")[-1]).encode()

    with refusing_inserts(BillingEmail._meta.db_table):
        response = post(client, failed)
    assert response.status_code == 500
    assert not Event.objects.exists()  # rolled back: Stripe's retry will apply it
    trigger = WebhookEventTrigger.objects.get()
    assert trigger.valid and not trigger.processed and "refused" in trigger.exception

    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, failed).status_code == 200
        assert post(client, failed).status_code == 200
    assert len(mail.outbox) == 1
    assert BillingEmail.objects.get().sent_at is not None


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


# --- events that are recorded and not applied ---------------------------------------------------


def relabel(body: bytes, *, live: bool) -> bytes:
    """The same event as Stripe's other mode would send it (signed again below)."""
    event = json.loads(body)
    event["livemode"] = live
    event["data"]["object"]["livemode"] = live
    return json.dumps(event).encode()


def test_a_test_mode_event_never_changes_a_live_project(client, settings, subscription_created):
    settings.STRIPE_LIVE_MODE = True
    response = post(client, subscription_created)
    assert response.status_code == 200  # Stripe stops sending it
    ignored = IgnoredEvent.objects.get()
    assert ignored.stripe_event_id == json.loads(subscription_created)["id"]
    assert ignored.type == "customer.subscription.created" and ignored.livemode is False
    assert "Test-mode event" in ignored.reason and "live-mode" in ignored.reason
    assert response.json() == {"ignored": ignored.reason}
    assert nothing_stored()  # dj-stripe never saw it
    assert not SubscriptionMetadata.objects.exists()
    assert post(client, subscription_created).status_code == 200  # a redelivery: one record
    assert IgnoredEvent.objects.count() == 1


def test_a_live_event_never_changes_a_test_project(client, subscription_created):
    live = relabel(subscription_created, live=True)
    assert post(client, live).status_code == 200
    assert "Live-mode event" in IgnoredEvent.objects.get().reason
    assert nothing_stored()
    assert not SubscriptionMetadata.objects.exists()
    # The event of this project's mode is applied as usual.
    assert post(client, subscription_created).status_code == 200
    assert SubscriptionMetadata.objects.count() == 1


def test_a_change_to_a_customer_deleted_since_is_ignored_not_retried(
    client, user, stripe_fake, catalog
):
    customer = factories.stripe_customer(user=user)
    stripe_fake.deliver()
    stripe.Customer.modify(customer.id, name="Alice", api_key=stripe_fake.api_key)
    updated = json.dumps(stripe_fake.events("customer.updated")[-1]).encode()
    stripe.Customer.delete(customer.id, api_key=stripe_fake.api_key)
    deleted = json.dumps(stripe_fake.events("customer.deleted")[-1]).encode()

    assert post(client, deleted).status_code == 200
    assert Customer.objects.get(id=customer.id).subscriber is None
    # The update arrives late: Stripe cannot give the customer back any more.
    assert post(client, updated).status_code == 200
    assert "deleted at Stripe" in IgnoredEvent.objects.get().reason
