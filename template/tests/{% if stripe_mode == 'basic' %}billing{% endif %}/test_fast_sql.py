"""`apps.billing.fast_sql`: the hand-written SQL of webhook ingest, held to the ORM insert it
replaces."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict

from apps.billing.fast_sql import insert_event_once
from apps.billing.models import WebhookEvent
from apps.billing.webhooks import _new_row
from tests.stripe_events import load_fixture, make_event

pytestmark = pytest.mark.django_db


def stored(event_id: str) -> dict[str, Any]:
    row = WebhookEvent.objects.get(stripe_event_id=event_id)
    return model_to_dict(row, exclude=["id", "stripe_event_id"])


@pytest.mark.parametrize(
    "event",
    [
        make_event("customer.subscription.updated", load_fixture("subscription")),
        make_event("invoice.payment_failed", load_fixture("invoice", customer_email=None)),
        make_event("customer.created", {"id": "cus_Ünïcode", "object": "customer", "x": [1.5]}),
    ],
    ids=["subscription", "invoice", "unicode"],
)
def test_the_one_statement_insert_writes_the_row_the_orm_writes(event):
    by_orm = _new_row({**event, "id": "evt_by_orm"})
    by_orm.save()
    pk, status = insert_event_once(_new_row(event))
    row = WebhookEvent.objects.get(pk=pk)
    assert (row.stripe_event_id, row.status, status) == (event["id"], "received", "received")
    assert stored(event["id"]) | {"payload": None} == stored("evt_by_orm") | {"payload": None}
    assert row.payload == {**event} and by_orm.payload["id"] == "evt_by_orm"
    assert row.received_at is not None


def test_an_event_id_stored_already_changes_nothing():
    event = make_event("customer.subscription.created", load_fixture("subscription"))
    first = insert_event_once(_new_row(event))
    WebhookEvent.objects.filter(pk=first[0]).update(status="processed", attempts=1)
    changed = {**event, "type": "customer.subscription.deleted"}
    assert insert_event_once(_new_row(changed)) is None
    row = WebhookEvent.objects.get()
    assert (row.type, row.status, row.attempts) == ("customer.subscription.created", "processed", 1)
