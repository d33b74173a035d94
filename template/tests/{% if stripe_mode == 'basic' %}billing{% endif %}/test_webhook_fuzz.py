"""Whatever arrives at the webhook, the answer is 400 or 200, never a 500, and a rejected
request writes nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import fuzz, json_values
from tests.stripe_events import make_event

FUZZ = fuzz(150)


@pytest.mark.django_db
@FUZZ
@given(payload=json_values)
def test_signed_json_of_any_shape_is_rejected_or_stored(payload, webhook_target):
    body = json.dumps(payload).encode()
    assert webhook_target.post_signed(body) in (200, 400)


@pytest.mark.django_db
@FUZZ
@given(
    event_type=st.text(min_size=1, max_size=120),
    obj=st.dictionaries(st.text(max_size=20), json_values, max_size=6),
    created=st.integers(min_value=-(2**63), max_value=2**63),
)
def test_signed_events_with_odd_contents_never_crash(event_type, obj, created, webhook_target):
    event = make_event(event_type, obj)
    event["created"] = created
    body = json.dumps(event).encode()
    assert webhook_target.post_signed(body) in (200, 400)


@pytest.mark.django_db
@FUZZ
@given(
    status=st.text(max_size=40),
    period=st.integers(min_value=-(2**40), max_value=2**40) | st.none() | st.text(max_size=5),
    user_id=st.text(max_size=10) | st.integers(),
)
def test_subscription_events_with_odd_fields_never_crash(status, period, user_id, webhook_target):
    from tests.stripe_events import load_fixture

    obj = load_fixture("subscription", status=status, metadata={"user_id": user_id})
    obj["items"]["data"][0]["current_period_end"] = period
    body = json.dumps(make_event("customer.subscription.updated", obj)).encode()
    assert webhook_target.post_signed(body) in (200, 400)


@pytest.mark.django_db
@FUZZ
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_unicode_anywhere_in_a_signed_event(text, webhook_target):
    from tests.stripe_events import load_fixture

    obj = load_fixture("invoice", customer_email=text or None, currency=text[:3] or None)
    event = make_event(f"invoice.{text}", obj)
    body = json.dumps(event, ensure_ascii=False).encode()
    assert webhook_target.post_signed(body) in (200, 400)
