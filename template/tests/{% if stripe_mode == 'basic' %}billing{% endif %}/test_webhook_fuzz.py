"""Whatever arrives at the webhook, the answer is 400 or 200, never a 500, and a rejected
request writes nothing."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from apps.billing.models import WebhookEvent
from tests.fuzzing import fuzz, json_values
from tests.stripe_events import make_event, sign

URL = "/billing/webhook/"
FUZZ = fuzz(150)


def post(body: bytes, header: str | None) -> int:
    """POST to the webhook; a rejected request (400) must have written nothing."""
    before = WebhookEvent.objects.count()
    extra = {} if header is None else {"HTTP_STRIPE_SIGNATURE": header}
    status = Client().post(URL, data=body, content_type="application/json", **extra).status_code
    if status == 400:
        assert WebhookEvent.objects.count() == before
    return status


@pytest.mark.django_db
@FUZZ
@given(body=st.binary(max_size=2048), header=st.none() | st.text(max_size=200))
def test_unsigned_garbage_is_rejected(body, header):
    assert post(body, header) == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
@FUZZ
@given(
    body=st.binary(max_size=1024),
    offset=st.integers(min_value=-(10**6), max_value=10**6),
    secret=st.text(min_size=1, max_size=40),
)
def test_bad_signatures_and_timestamps_are_rejected(body, offset, secret):
    timestamp = int(time.time()) + offset
    header = sign(body, secret=f"whsec_{secret}x", timestamp=timestamp)
    assert post(body, header) == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
@FUZZ
@given(payload=json_values)
def test_signed_json_of_any_shape_is_rejected_or_stored(payload):
    body = json.dumps(payload).encode()
    assert post(body, sign(body)) in (200, 400)


@pytest.mark.django_db
@FUZZ
@given(
    event_type=st.text(min_size=1, max_size=120),
    obj=st.dictionaries(st.text(max_size=20), json_values, max_size=6),
    created=st.integers(min_value=-(2**63), max_value=2**63),
)
def test_signed_events_with_odd_contents_never_crash(event_type, obj, created):
    event = make_event(event_type, obj)
    event["created"] = created
    body = json.dumps(event).encode()
    assert post(body, sign(body)) in (200, 400)


@pytest.mark.django_db
@FUZZ
@given(
    status=st.text(max_size=40),
    period=st.integers(min_value=-(2**40), max_value=2**40) | st.none() | st.text(max_size=5),
    user_id=st.text(max_size=10) | st.integers(),
)
def test_subscription_events_with_odd_fields_never_crash(status, period, user_id):
    from tests.stripe_events import load_fixture

    obj = load_fixture("subscription", status=status, metadata={"user_id": user_id})
    obj["items"]["data"][0]["current_period_end"] = period
    body = json.dumps(make_event("customer.subscription.updated", obj)).encode()
    assert post(body, sign(body)) in (200, 400)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [0, 3 * 1024 * 1024])
def test_empty_and_huge_payloads_are_rejected(size):
    body = b"{" + b" " * max(size - 2, 0) + b"}" if size else b""
    assert post(body, sign(body)) == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
@FUZZ
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_unicode_anywhere_in_a_signed_event(text):
    from tests.stripe_events import load_fixture

    obj = load_fixture("invoice", customer_email=text or None, currency=text[:3] or None)
    event = make_event(f"invoice.{text}", obj)
    body = json.dumps(event, ensure_ascii=False).encode()
    assert post(body, sign(body)) in (200, 400)
