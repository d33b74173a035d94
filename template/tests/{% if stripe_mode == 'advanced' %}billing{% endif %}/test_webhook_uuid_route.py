"""/djstripe/webhook/<uuid>/, the route of webhook endpoints stored in the database: a request
is checked against that endpoint's secret and tolerance before anything is stored, so a forged
one writes no delivery log (dj-stripe's own view stored one for any Stripe-Signature header).
A genuine one is stored and applied by the worker, as at /djstripe/webhook/."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from djstripe.models import Account, Event, WebhookEndpoint, WebhookEventTrigger
from hypothesis import given
from hypothesis import strategies as st

from apps.billing.models import WebhookEvent
from tests.fuzzing import WebhookTarget, fuzz
from tests.stripe_events import sign

from . import factories
from .conftest import WEBHOOK_SECRET, stored_rows

pytestmark = pytest.mark.django_db

ENDPOINT_SECRET = "whsec_storedendpointsecret000000"


@pytest.fixture
def endpoint() -> WebhookEndpoint:
    """An endpoint created in the Stripe dashboard and synced, with a stricter tolerance."""
    return WebhookEndpoint.objects.create(
        id="we_dashboard_endpoint",
        secret=ENDPOINT_SECRET,
        url="https://example.com/djstripe/webhook/uuid/",
        enabled_events=["*"],
        status="enabled",
        livemode=False,
        djstripe_tolerance=60,
        stripe_data={},
    )


@pytest.fixture
def uuid_target(endpoint: WebhookEndpoint) -> WebhookTarget:
    return WebhookTarget(
        url=f"/djstripe/webhook/{endpoint.djstripe_uuid}/",
        secret=ENDPOINT_SECRET,
        stored=stored_rows,
    )


@pytest.fixture
def subscription_created(stripe_fake, catalog, user) -> bytes:
    factories.stripe_subscription(user=user, plan=catalog["pro"])
    return json.dumps(stripe_fake.events("customer.subscription.created")[-1]).encode()


def test_a_correctly_signed_event_is_processed(uuid_target, subscription_created, post_webhook):
    response = post_webhook(subscription_created, url=uuid_target.url, secret=ENDPOINT_SECRET)
    assert response.status_code == 200
    assert Event.objects.filter(type="customer.subscription.created").count() == 1
    assert WebhookEventTrigger.objects.get().webhook_endpoint.id == "we_dashboard_endpoint"
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_connected_accounts_endpoint_records_the_account_on_the_delivery(
    endpoint, uuid_target, subscription_created, post_webhook, django_capture_on_commit_callbacks
):
    """dj-stripe fetches a Connect event's objects as the account its endpoint belongs to."""
    account = Account.objects.create(id="acct_connected000001", livemode=False, stripe_data={})
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(djstripe_owner_account=account)
    with django_capture_on_commit_callbacks():  # stored and queued; applying it is not the point
        response = post_webhook(subscription_created, url=uuid_target.url, secret=ENDPOINT_SECRET)
    assert response.status_code == 200
    assert WebhookEventTrigger.objects.get().stripe_trigger_account_id == account.id


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=1,v1=00",
        sign(b"another body", secret=ENDPOINT_SECRET),
    ],
)
def test_unsigned_and_garbage_requests_store_nothing(uuid_target, subscription_created, header):
    assert uuid_target.post(subscription_created, header) == 400
    assert uuid_target.stored() == 0


def test_an_unsigned_request_is_told_what_is_missing(client, uuid_target, subscription_created):
    response = client.post(
        uuid_target.url, data=subscription_created, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Missing Stripe-Signature header."}


def test_a_signature_with_another_endpoints_secret_stores_nothing(
    uuid_target, subscription_created
):
    """DJSTRIPE_WEBHOOK_SECRET signs /djstripe/webhook/ only, not a stored endpoint's route."""
    header = sign(subscription_created, secret=WEBHOOK_SECRET)
    assert uuid_target.post(subscription_created, header) == 400
    assert uuid_target.stored() == 0


def test_the_endpoints_own_tolerance_applies(uuid_target, subscription_created):
    """120 s old: inside the project's 300 s, outside this endpoint's 60 s."""
    stale = sign(subscription_created, secret=ENDPOINT_SECRET, timestamp=int(time.time()) - 120)
    assert uuid_target.post(subscription_created, stale) == 400
    assert uuid_target.stored() == 0


def test_the_debug_secret_header_does_not_replace_the_endpoints_secret(
    client, settings, endpoint, subscription_created
):
    settings.DEBUG = True
    response = client.post(
        f"/djstripe/webhook/{endpoint.djstripe_uuid}/",
        data=subscription_created,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(subscription_created, secret="whsec_chosen_by_the_sender"),
        HTTP_X_DJSTRIPE_WEBHOOK_SECRET="whsec_chosen_by_the_sender",
    )
    assert response.status_code == 400
    assert not WebhookEventTrigger.objects.exists()


def test_an_unknown_uuid_is_404_and_stores_nothing(client, subscription_created):
    response = client.post(
        "/djstripe/webhook/00000000-0000-4000-8000-000000000000/",
        data=subscription_created,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(subscription_created, secret=ENDPOINT_SECRET),
    )
    assert response.status_code == 404
    assert not WebhookEventTrigger.objects.exists()


def test_an_endpoint_without_a_secret_refuses_with_503(uuid_target, endpoint, subscription_created):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret="")
    response = Client().post(
        f"/djstripe/webhook/{endpoint.djstripe_uuid}/",
        data=subscription_created,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(subscription_created, secret=ENDPOINT_SECRET),
    )
    assert response.status_code == 503
    reason = f"The webhook endpoint {endpoint.id} has no signing secret."
    assert response.json() == {"error": reason}
    assert uuid_target.stored() == 0


@fuzz(100)
@given(body=st.binary(max_size=1024), header=st.none() | st.text(max_size=200))
def test_fuzzed_requests_are_refused_and_store_nothing(uuid_target, body, header):
    assert uuid_target.post(body, header) == 400
    assert uuid_target.stored() == 0
