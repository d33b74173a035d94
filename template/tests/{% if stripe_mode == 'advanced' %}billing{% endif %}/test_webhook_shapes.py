"""Which signed bodies are Stripe events the webhook may store (advanced mode): at the limits of
each envelope field the event is kept, one past them it is refused (400, nothing stored)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.billing.webhooks import WebhookRejectedError, check_event_shape
from tests.fuzzing import WebhookTarget
from tests.stripe_events import make_event

DROP = object()
CUSTOMER = {"id": "cus_1", "object": "customer"}


def body_with(**envelope: Any) -> bytes:
    event = make_event("ping.unhandled", dict(CUSTOMER), created=1_767_225_600)
    for key, value in envelope.items():
        if value is DROP:
            event.pop(key)
        else:
            event[key] = value
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "envelope",
    [
        {"object": "event"},
        {"object": DROP},
        {"id": "e"},
        {"id": "e" * 255},
        {"type": "t"},
        {"type": "t" * 250},
        {"created": 1},
        {"created": 2**37 - 1},
    ],
)
def test_events_within_the_limits_are_kept(envelope: dict[str, Any]) -> None:
    body = body_with(**envelope)
    assert check_event_shape(body) == json.loads(body)


NOT_AN_EVENT = "The body is not a Stripe event."
NO_ID = "The event has no valid id."
NO_TYPE = "The event has no valid type."
NO_CREATED = "The event has no valid created timestamp."
NO_DATA = "The event has no data.object."


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        ({"object": "customer"}, NOT_AN_EVENT),
        ({"id": DROP}, NO_ID),
        ({"id": ""}, NO_ID),
        ({"id": "e" * 256}, NO_ID),
        ({"id": 12}, NO_ID),
        ({"type": DROP}, NO_TYPE),
        ({"type": ""}, NO_TYPE),
        ({"type": "t" * 251}, NO_TYPE),
        ({"type": ["customer.deleted"]}, NO_TYPE),
        ({"created": DROP}, NO_CREATED),
        ({"created": 0}, NO_CREATED),
        ({"created": -1}, NO_CREATED),
        ({"created": 2**37}, NO_CREATED),
        ({"created": True}, NO_CREATED),
        ({"created": 1.5}, NO_CREATED),
        ({"data": {"object": "cus_1"}}, NO_DATA),
        ({"data": []}, NO_DATA),
        ({"data": DROP}, NO_DATA),
    ],
)
def test_events_past_the_limits_are_refused_saying_why(
    envelope: dict[str, Any], reason: str
) -> None:
    with pytest.raises(WebhookRejectedError) as refused:
        check_event_shape(body_with(**envelope))
    assert str(refused.value) == reason  # the 400's body, which Stripe's dashboard shows


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[]", NOT_AN_EVENT),
        (b'"event"', NOT_AN_EVENT),
        (b"{not json", "The body is not valid JSON."),
    ],
)
def test_bodies_that_are_not_events_are_refused_saying_why(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejectedError) as refused:
        check_event_shape(body)
    assert str(refused.value) == reason


def test_a_body_with_a_nul_character_is_refused() -> None:
    event = json.loads(body_with())
    event["data"]["object"]["name"] = "nul\x00"  # JSON carries it as \\u0000
    body = json.dumps(event).encode()
    assert b"\\u0000" in body
    with pytest.raises(WebhookRejectedError, match="^The body contains a NUL character.$"):
        check_event_shape(body)
    event["data"]["object"]["name"] = "nul"
    raw_nul = json.dumps(event).encode().replace(b'"nul"', b'"nul\x00"')
    with pytest.raises(WebhookRejectedError):  # not even JSON: a raw control character
        check_event_shape(raw_nul)


def test_a_refused_body_stores_nothing(db: Any, webhook_target: WebhookTarget) -> None:
    assert webhook_target.post_signed(body_with(created=2**37)) == 400
    assert webhook_target.post_signed(body_with(object="customer")) == 400
    assert webhook_target.stored() == 0
