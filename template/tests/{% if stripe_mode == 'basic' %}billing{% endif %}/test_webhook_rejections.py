"""What a refused delivery tells the sender (basic mode). Stripe's dashboard shows the body of a
failed delivery, so each refusal names its reason; a refused delivery stores nothing. A stored
event keeps the envelope fields staff filter on (mode, API version, customer)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.billing.models import WebhookEvent
from tests.stripe_events import encode, make_event, sign

from .harness import URL, deliver

pytestmark = pytest.mark.django_db


def refusal(client: Any, body: bytes, signature: str | None = None) -> tuple[int, str]:
    """Post `body` (signed unless a signature is given) and return the status and its error."""
    headers = {"HTTP_STRIPE_SIGNATURE": signature if signature is not None else sign(body)}
    response = client.post(URL, data=body, content_type="application/json", **headers)
    assert not WebhookEvent.objects.exists()
    return response.status_code, response.json()["error"]


def assert_refused_as_malformed(
    client: Any, event_type: str, obj: dict[str, Any], problem: str
) -> None:
    """A signed `event_type` event carrying `obj` is refused, naming the field at fault."""
    body = encode(make_event(event_type, obj))
    assert refusal(client, body) == (400, f"Malformed {event_type} object: {problem}.")


def schedule(**fields: Any) -> dict[str, Any]:
    obj = {"id": "sub_sched_1", "object": "subscription_schedule", "status": "active"}
    obj.update(fields)
    return {key: value for key, value in obj.items() if value is not DROP}


DROP = object()


def test_a_delivery_without_a_signature_is_refused(client: Any) -> None:
    body = encode(make_event("ping.unhandled", {"id": "cus_1"}))
    response = client.post(URL, data=body, content_type="application/json")
    assert (response.status_code, response.json()["error"]) == (
        400,
        "Missing Stripe-Signature header.",
    )


def test_a_project_without_a_webhook_secret_says_what_to_set(client: Any, settings: Any) -> None:
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = encode(make_event("ping.unhandled", {"id": "cus_1"}))
    assert refusal(client, body, signature="t=1,v1=00") == (
        503,
        "Set STRIPE_WEBHOOK_SECRET to receive Stripe webhooks.",
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\xff\xfe{}", "The body is not UTF-8."),
        (b'{"type": "x\\u0000"}', "The body contains a NUL character."),
        (b"[]", "The event must be a JSON object."),
        (b'{"object": "customer", "type": "x"}', "The body is not a Stripe event."),
        (b'{"id": "", "type": "x"}', "The event has no valid id."),
        (b'{"id": "evt_1", "type": ""}', "The event has no valid type."),
        (
            b'{"id": "evt_1", "type": "x", "created": -1}',
            "The event has no valid created timestamp.",
        ),
        (
            b'{"id": "evt_1", "type": "x", "created": 1, "data": {}}',
            "The event has no data.object.",
        ),
    ],
)
def test_each_refusal_names_its_reason(client: Any, body: bytes, error: str) -> None:
    assert refusal(client, body) == (400, error)


def test_a_wrong_signature_is_refused_as_such(client: Any) -> None:
    body = encode(make_event("ping.unhandled", {"id": "cus_1"}))
    status, error = refusal(client, body, signature=sign(body, secret="whsec_someone_else"))
    assert status == 400
    assert error.startswith("Invalid signature: No signatures found matching")


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (schedule(id=DROP), "id must be a string of at most 255 characters"),
        (schedule(customer=5), "customer must be a string of at most 255 characters"),
        (schedule(subscription={"id": 5}), "id must be a string of at most 255 characters"),
        (schedule(subscription=[]), "subscription must be a string of at most 255 characters"),
        (
            schedule(released_subscription=7),
            "released_subscription must be a string of at most 255 characters",
        ),
        (schedule(status=DROP), "status must be a string of at most 20 characters"),
        (schedule(status="s" * 21), "status must be a string of at most 20 characters"),
        (schedule(current_phase=[]), "current_phase must be an object"),
        (schedule(current_phase={"start_date": "today"}), "start_date must be a Unix timestamp"),
        (schedule(current_phase={"end_date": -1}), "end_date must be a Unix timestamp"),
        (schedule(phases={}), "phases must be a list of objects"),
        (schedule(phases=["phase"]), "phases must be a list of objects"),
        (schedule(phases=[{"items": {}}]), "phases.items must be a list of objects"),
        (schedule(phases=[{"items": [1]}]), "phases.items must be a list of objects"),
        (schedule(phases=[{"start_date": 1.5}]), "start_date must be a Unix timestamp"),
        (schedule(phases=[{"end_date": "never"}]), "end_date must be a Unix timestamp"),
        (
            schedule(phases=[{"items": [{"price": 3}]}]),
            "price must be a string of at most 255 characters",
        ),
    ],
)
def test_a_malformed_subscription_schedule_is_refused_with_its_field(
    client: Any, obj: dict[str, Any], problem: str
) -> None:
    assert_refused_as_malformed(client, "subscription_schedule.updated", obj, problem)


def test_a_well_formed_subscription_schedule_is_stored(client: Any) -> None:
    phase = {"start_date": 1, "end_date": 2, "items": [{"price": {"id": "price_1"}}]}
    obj = schedule(
        customer="cus_1",
        subscription="sub_1",
        released_subscription=None,
        current_phase={"start_date": 1, "end_date": 2},
        phases=[phase],
    )
    response = deliver(client, make_event("subscription_schedule.updated", obj))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().stripe_customer_id == "cus_1"


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (
            {"id": "sub_1", "status": "active", "cancel_at_period_end": "yes"},
            "cancel_at_period_end must be a boolean",
        ),
        ({"id": "sub_1", "status": "active", "items": []}, "items.data must be a list"),
        (
            {"id": "sub_1", "status": "active", "items": {"data": [1]}},
            "items.data must hold objects",
        ),
        (
            {"id": "sub_1", "status": "active", "items": {"data": [{"quantity": -1}]}},
            "items.data.quantity must be a non-negative integer",
        ),
        (
            {"id": "sub_1", "status": "active", "metadata": {"n": 1}},
            "metadata must map strings to strings",
        ),
    ],
)
def test_a_malformed_subscription_is_refused_with_its_field(
    client: Any, obj: dict[str, Any], problem: str
) -> None:
    assert_refused_as_malformed(client, "customer.subscription.updated", obj, problem)


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({"id": "in_1", "currency": "dollars"}, "currency must be a three-letter code"),
        ({"id": "in_1", "amount_due": "10"}, "amount_due must be an integer"),
        (
            {"id": "in_1", "parent": {"subscription_details": []}},
            "parent.subscription_details must be an object",
        ),
    ],
)
def test_a_malformed_invoice_is_refused_with_its_field(
    client: Any, obj: dict[str, Any], problem: str
) -> None:
    assert_refused_as_malformed(client, "invoice.paid", obj, problem)


def test_a_stored_event_keeps_its_mode_api_version_and_customer(client: Any) -> None:
    event = make_event("customer.deleted", {"id": "cus_Gone", "object": "customer"})
    event.update(livemode=True, api_version="v" * 60)
    response = deliver(client, event)
    assert response.status_code == 200
    row = WebhookEvent.objects.get()
    assert (row.livemode, row.api_version, row.stripe_customer_id) == (True, "v" * 50, "cus_Gone")


def test_a_stored_event_without_mode_or_version_is_a_test_mode_event(client: Any) -> None:
    event = make_event(
        "customer.subscription.updated",
        {"id": "sub_1", "status": "active", "customer": {"id": "cus_9"}},
    )
    event.pop("livemode", None)
    event["api_version"] = None
    response = deliver(client, event)
    assert response.status_code == 200
    row = WebhookEvent.objects.get()
    assert (row.livemode, row.api_version, row.stripe_customer_id) == (False, "", "cus_9")
