"""Signed bodies that are JSON but not JSON the webhook can take are refused with 400, never a
500: nested thousands of levels deep (json.loads raises RecursionError), hundreds of levels
deep (it parses, but storing it would overflow the stack), NaN."""

from __future__ import annotations

import json

import pytest

from apps.billing.webhook_json import MAX_DEPTH, InvalidJSONBodyError, parse_json_body


def event_nesting(levels: int) -> bytes:
    """A Stripe event whose object's metadata holds `levels` nested lists."""
    event = {
        "id": "evt_deeply_nested",
        "object": "event",
        "api_version": "2026-05-27.dahlia",
        "created": 1_700_000_000,
        "type": "customer.subscription.updated",
        "livemode": False,
        "data": {"object": {"id": "sub_deep", "object": "subscription", "metadata": "HERE"}},
    }
    return json.dumps(event).encode().replace(b'"HERE"', b"[" * levels + b"]" * levels)


@pytest.mark.django_db
@pytest.mark.parametrize("levels", [5000, 990, MAX_DEPTH])
def test_deeply_nested_signed_json_is_refused_with_400(webhook_target, levels):
    assert webhook_target.post_signed(event_nesting(levels)) == 400
    assert webhook_target.stored() == 0


def test_a_stripe_event_is_well_within_the_limit():
    assert parse_json_body(event_nesting(MAX_DEPTH - 4))["id"] == "evt_deeply_nested"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested too deeply"),
        (b'{"amount": NaN}', "not valid JSON"),
        (b"\xff", "not valid JSON"),
    ],
)
def test_what_parse_json_body_refuses(body, reason):
    with pytest.raises(InvalidJSONBodyError, match=reason):
        parse_json_body(body)
