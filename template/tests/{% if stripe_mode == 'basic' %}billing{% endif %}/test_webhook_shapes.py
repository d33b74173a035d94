"""Which signed bodies the webhook stores (basic mode): a Stripe event of the shapes Stripe
sends, at the limits of each field, is stored (200); one past them is refused with 400 and
nothing stored, so no handler ever reads a field of a type it does not expect."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.billing.models import WebhookEvent
from apps.billing.webhooks import MAX_TIMESTAMP
from tests.stripe_events import load_fixture, make_event, sign

from .harness import URL

pytestmark = pytest.mark.django_db


def post(client: Any, body: bytes) -> int:
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body)
    )
    if response.status_code == 400:
        assert not WebhookEvent.objects.exists()
    return int(response.status_code)


def event_with(event_type: str, obj: dict[str, Any], **envelope: Any) -> bytes:
    event = make_event(event_type, obj, created=1_767_225_600)
    for key, value in envelope.items():
        if value is DROP:
            event.pop(key)
        else:
            event[key] = value
    return json.dumps(event).encode()


DROP = object()
CUSTOMER = {"id": "cus_1", "object": "customer"}


@pytest.mark.parametrize(
    ("envelope", "status"),
    [
        ({"object": "event"}, 200),
        ({"object": DROP}, 200),
        ({"object": "customer"}, 400),
        ({"id": "e" * 255}, 200),
        ({"id": "e" * 256}, 400),
        ({"id": ""}, 400),
        ({"id": 12}, 400),
        ({"type": "t" * 100}, 200),
        ({"type": "t" * 101}, 400),
        ({"type": ""}, 400),
        ({"type": ["customer.deleted"]}, 400),
        ({"created": 1}, 200),
        ({"created": MAX_TIMESTAMP}, 200),
        ({"created": MAX_TIMESTAMP + 1}, 400),
        ({"created": 0}, 400),
        ({"created": -5}, 400),
        ({"created": True}, 400),
        ({"created": 1.5}, 400),
        ({"data": {"object": "cus_1"}}, 400),
        ({"data": []}, 400),
    ],
)
def test_the_event_envelope(client: Any, envelope: dict[str, Any], status: int) -> None:
    body = event_with("ping.unhandled", dict(CUSTOMER), **envelope)
    assert post(client, body) == status


@pytest.mark.parametrize(
    "body",
    [b'{"id": "evt_nul\\u0000", "type": "x"}', b'{"id": "evt_nul\x00", "type": "x"}'],
    ids=["escaped", "raw"],
)
def test_a_body_with_a_nul_character_is_refused(client: Any, body: bytes) -> None:
    event = make_event("ping.unhandled", dict(CUSTOMER))
    whole = json.dumps(event).encode()[:-1] + b', "extra": ' + body + b"}"
    assert post(client, whole) == 400


def subscription(**fields: Any) -> dict[str, Any]:
    return load_fixture("subscription", **fields)


def without(obj: dict[str, Any], key: str) -> dict[str, Any]:
    obj.pop(key)
    return obj


def item(**fields: Any) -> dict[str, Any]:
    items = load_fixture("subscription")["items"]
    items["data"][0].update(fields)
    return dict(items)


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        (subscription(), 200),
        (subscription(id=None), 400),
        (subscription(id="s" * 256), 400),
        (subscription(customer={"id": "cus_1", "object": "customer"}), 200),
        (subscription(customer={"object": "customer"}), 400),
        (subscription(customer=7), 400),
        (subscription(status="s" * 20), 200),
        (subscription(status="s" * 21), 400),
        (subscription(status=None), 400),
        (subscription(metadata={"user_id": 5}), 400),
        (subscription(metadata=["user_id"]), 400),
        (subscription(default_payment_method={"id": ""}), 400),
        (subscription(default_source=5), 400),
        (subscription(cancel_at=0), 200),
        (subscription(cancel_at=MAX_TIMESTAMP), 200),
        (subscription(cancel_at=MAX_TIMESTAMP + 1), 400),
        (subscription(canceled_at=-1), 400),
        (subscription(ended_at="2026-01-01"), 400),
        (subscription(trial_end=True), 400),
        (subscription(cancel_at_period_end="yes"), 400),
        (without(subscription(), "items"), 200),
        (subscription(items={"data": {}}), 400),
        (subscription(items=[]), 400),
        (subscription(items={"data": ["si_1"]}), 400),
        (subscription(items=item(price={"id": 5})), 400),
        (subscription(items=item(current_period_end=MAX_TIMESTAMP + 1)), 400),
        (subscription(items=item(current_period_start=-1)), 400),
        (subscription(items=item(quantity=0)), 200),
        (subscription(items=item(quantity=2**31 - 1)), 200),
        (subscription(items=item(quantity=2**31)), 400),
        (subscription(items=item(quantity=-1)), 400),
        (subscription(items=item(quantity=True)), 400),
        (subscription(items=item(quantity="2")), 400),
        (subscription(items=item(price={"id": "price_1", "nickname": "n" * 255})), 200),
        (subscription(items=item(price={"id": "price_1", "nickname": "n" * 256})), 400),
        (subscription(items=item(price={"id": "price_1", "nickname": 3})), 400),
    ],
)
@pytest.mark.parametrize(
    "event_type",
    ["customer.subscription.updated", "customer.subscription.trial_will_end"],
    ids=["updated", "trial"],
)
def test_subscription_fields(
    client: Any, obj: dict[str, Any], status: int, event_type: str
) -> None:
    assert post(client, event_with(event_type, obj)) == status


def invoice(**fields: Any) -> dict[str, Any]:
    return load_fixture("invoice", **fields)


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        (invoice(), 200),
        (invoice(id=""), 400),
        (invoice(customer={"id": None}), 400),
        (invoice(customer_email="e" * 254), 200),
        (invoice(customer_email="e" * 255), 400),
        (invoice(currency="eur"), 200),
        (without(invoice(), "currency"), 200),
        (invoice(currency="eu"), 400),
        (invoice(currency="euro"), 400),
        (invoice(currency="e1r"), 400),
        (invoice(currency="€ur"), 400),
        (invoice(currency=978), 400),
        (invoice(hosted_invoice_url="h" * 2000), 200),
        (invoice(hosted_invoice_url="h" * 2001), 400),
        (invoice(number="n" * 256), 400),
        (invoice(billing_reason="b" * 101), 400),
        (invoice(created=MAX_TIMESTAMP + 1), 400),
        (invoice(subscription={"id": 1}), 400),
        (invoice(amount_due="2900"), 400),
        (invoice(amount_due=False), 400),
        (invoice(parent=None), 200),
        (invoice(parent={"subscription_details": None}), 200),
        (invoice(parent={"subscription_details": "sub_1"}), 400),
        (invoice(parent={"subscription_details": {"subscription": "s" * 256}}), 400),
        (invoice(parent="sub_1"), 400),
    ],
)
@pytest.mark.parametrize(
    "event_type",
    ["invoice.paid", "invoice.payment_failed", "invoice.payment_action_required"],
    ids=["paid", "failed", "action"],
)
def test_invoice_fields(client: Any, obj: dict[str, Any], status: int, event_type: str) -> None:
    assert post(client, event_with(event_type, obj)) == status


def session(**fields: Any) -> dict[str, Any]:
    return load_fixture("checkout_session", **fields)


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        (session(), 200),
        (session(id=3), 400),
        (session(mode=["subscription"]), 400),
        (session(customer={"id": ""}), 400),
        (session(client_reference_id="1" * 200), 200),
        (session(client_reference_id="1" * 201), 400),
        (session(metadata={"user_id": 1}), 400),
    ],
)
def test_checkout_session_fields(client: Any, obj: dict[str, Any], status: int) -> None:
    assert post(client, event_with("checkout.session.completed", obj)) == status


@pytest.mark.parametrize(
    ("obj", "status"),
    [({"id": "cus_1", "object": "customer"}, 200), ({"object": "customer"}, 400)],
)
def test_deleted_customer_fields(client: Any, obj: dict[str, Any], status: int) -> None:
    assert post(client, event_with("customer.deleted", obj)) == status
