"""Two updates of one subscription in the same second (basic mode) whose order their
`previous_attributes` cannot tell apart: a cancellation requested and withdrawn at once, each
event's previous values being the other's state. The one applied last wins, in either order."""

from __future__ import annotations

import time
from typing import Any

import pytest

from apps.billing.models import Subscription, WebhookEvent
from tests.stripe_events import load_fixture, make_event

from .harness import deliver

pytestmark = pytest.mark.django_db


def update(created: int, *, cancel: bool) -> dict[str, Any]:
    obj = load_fixture("subscription", cancel_at_period_end=cancel)
    event = make_event("customer.subscription.updated", obj, created=created)
    event["data"]["previous_attributes"] = {"cancel_at_period_end": not cancel}
    return event


@pytest.mark.parametrize("last", [True, False], ids=["cancel-last", "withdraw-last"])
def test_the_update_applied_last_wins_when_both_could_be_later(
    client: Any, customer: Any, last: bool
) -> None:
    now = int(time.time())
    deliver(
        client,
        make_event("customer.subscription.created", load_fixture("subscription"), created=now - 60),
    )
    first, second = update(now, cancel=not last), update(now, cancel=last)
    for event in (first, second):
        assert deliver(client, event).status_code == 200
    assert WebhookEvent.objects.get(stripe_event_id=second["id"]).last_error.startswith("Updated")
    sub = Subscription.objects.get()
    assert (sub.cancel_at_period_end, sub.last_event_id) == (last, second["id"])


def test_an_update_that_came_before_the_applied_one_is_skipped(client: Any, customer: Any) -> None:
    now = int(time.time())
    deliver(
        client,
        make_event("customer.subscription.created", load_fixture("subscription"), created=now - 60),
    )
    requested = update(now, cancel=True)  # cancel_at_period_end: False -> True
    later = make_event(
        "customer.subscription.updated",
        load_fixture("subscription", cancel_at_period_end=True, status="past_due"),
        created=now,
    )
    later["data"]["previous_attributes"] = {"status": "active"}
    deliver(client, later)
    assert deliver(client, requested).status_code == 200
    skipped = WebhookEvent.objects.get(stripe_event_id=requested["id"])
    assert skipped.last_error == "Skipped: a later event of the same second was already applied."
    assert Subscription.objects.get().status == "past_due"
