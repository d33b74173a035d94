"""Whatever arrives at /djstripe/webhook/, the answer is 400 or 200, never a 500, and a
rejected request writes nothing (no stored event, no delivery log, no Event). An accepted one
is applied or kept as failed by the worker, never left behind."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.billing.models import WebhookEvent
from tests.fuzzing import fuzz, json_values

FUZZ = fuzz(100)


@pytest.mark.django_db
@FUZZ
@given(payload=json_values)
def test_signed_json_that_is_not_an_event_is_rejected(payload, webhook_target):
    body = json.dumps(payload).encode()
    assert webhook_target.post_signed(body) == 400


@FUZZ
@given(
    event_type=st.text(min_size=1, max_size=60).filter(lambda t: "." not in t),
    obj=st.dictionaries(st.text(max_size=20), json_values, max_size=6),
    text=st.text(max_size=100),
)
def test_signed_events_of_unknown_types_never_crash(
    stripe_fake, post_webhook, event_type, obj, text
):
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
    status = post_webhook(body).status_code
    assert status in (200, 400)
    if status == 400:
        assert not WebhookEvent.objects.filter(stripe_event_id=event["id"]).exists()
        return
    stored = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert stored.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.FAILED)
    assert stored.status == WebhookEvent.Status.PROCESSED or stored.last_error
