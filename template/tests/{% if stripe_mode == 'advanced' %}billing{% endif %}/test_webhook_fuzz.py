"""Whatever arrives at /djstripe/webhook/, the answer is 400 or 200, never a 500, and a
rejected request writes nothing (no delivery log, no Event)."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from djstripe.models import Event, WebhookEventTrigger
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import fuzz, json_values
from tests.stripe_events import sign

from .conftest import WEBHOOK_SECRET, WEBHOOK_URL

FUZZ = fuzz(100)


def stored() -> int:
    return WebhookEventTrigger.objects.count() + Event.objects.count()


def post(body: bytes, header: str | None) -> int:
    """POST to the webhook; a rejected request (400) must have written nothing."""
    before = stored()
    extra = {} if header is None else {"HTTP_STRIPE_SIGNATURE": header}
    status = Client().post(WEBHOOK_URL, data=body, content_type="application/json", **extra)
    if status.status_code == 400:
        assert stored() == before
    return status.status_code


@pytest.mark.django_db
@FUZZ
@given(body=st.binary(max_size=2048), header=st.none() | st.text(max_size=200))
def test_unsigned_garbage_is_rejected(body, header):
    assert post(body, header) == 400


@pytest.mark.django_db
@FUZZ
@given(
    body=st.binary(max_size=1024),
    offset=st.integers(min_value=-(10**6), max_value=10**6),
    secret=st.text(min_size=1, max_size=40),
)
def test_bad_signatures_and_timestamps_are_rejected(body, offset, secret):
    header = sign(body, secret=f"whsec_{secret}x", timestamp=int(time.time()) + offset)
    assert post(body, header) == 400


@pytest.mark.django_db
@FUZZ
@given(payload=json_values)
def test_signed_json_that_is_not_an_event_is_rejected(payload):
    body = json.dumps(payload).encode()
    assert post(body, sign(body, secret=WEBHOOK_SECRET)) == 400


@pytest.mark.parametrize("size", [0, 3 * 1024 * 1024])
@pytest.mark.django_db
def test_empty_and_huge_payloads_are_rejected(size):
    body = b"{" + b" " * max(size - 2, 0) + b"}" if size else b""
    assert post(body, sign(body, secret=WEBHOOK_SECRET)) == 400


@FUZZ
@given(
    event_type=st.text(min_size=1, max_size=60).filter(lambda t: "." not in t),
    obj=st.dictionaries(st.text(max_size=20), json_values, max_size=6),
    text=st.text(max_size=100),
)
def test_signed_events_of_unknown_types_never_crash(stripe_fake, event_type, obj, text):
    event = {
        "id": f"evt_fuzz_{time.time_ns()}",
        "object": "event",
        "api_version": "2026-05-27.dahlia",
        "created": int(time.time()),
        "type": f"fuzz.{event_type}",
        "livemode": False,
        "data": {"object": {**obj, "description": text}},
    }
    body = json.dumps(event, ensure_ascii=False).encode()
    assert post(body, sign(body, secret=WEBHOOK_SECRET)) in (200, 400)
