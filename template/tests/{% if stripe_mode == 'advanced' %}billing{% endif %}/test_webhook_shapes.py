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
        {"id": "e" * 255},
        {"type": "t" * 250},
        {"created": 1},
        {"created": 2**37 - 1},
    ],
)
def test_events_within_the_limits_are_kept(envelope: dict[str, Any]) -> None:
    body = body_with(**envelope)
    assert check_event_shape(body) == json.loads(body)


@pytest.mark.parametrize(
    "envelope",
    [
        {"object": "customer"},
        {"id": DROP},
        {"id": ""},
        {"id": "e" * 256},
        {"id": 12},
        {"type": DROP},
        {"type": ""},
        {"type": "t" * 251},
        {"type": ["customer.deleted"]},
        {"created": DROP},
        {"created": 0},
        {"created": -1},
        {"created": 2**37},
        {"created": True},
        {"created": 1.5},
        {"data": {"object": "cus_1"}},
        {"data": []},
        {"data": DROP},
    ],
)
def test_events_past_the_limits_are_refused(envelope: dict[str, Any]) -> None:
    with pytest.raises(WebhookRejectedError):
        check_event_shape(body_with(**envelope))


def test_a_body_with_a_nul_character_is_refused() -> None:
    event = json.loads(body_with())
    event["data"]["object"]["name"] = "nul\x00"  # JSON carries it as \\u0000
    body = json.dumps(event).encode()
    assert b"\\u0000" in body
    with pytest.raises(WebhookRejectedError):
        check_event_shape(body)
    event["data"]["object"]["name"] = "nul"
    with pytest.raises(WebhookRejectedError):
        check_event_shape(json.dumps(event).encode().replace(b'"nul"', b'"nul\x00"'))


def test_a_refused_body_stores_nothing(db: Any, webhook_target: WebhookTarget) -> None:
    assert webhook_target.post_signed(body_with(created=2**37)) == 400
    assert webhook_target.post_signed(body_with(object="customer")) == 400
    assert webhook_target.stored() == 0
