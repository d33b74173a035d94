"""The state of plan changes in basic mode: subscription schedules from their signed webhooks,
in any order, and the scheduled change the billing page shows."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.billing.models import SubscriptionSchedule
from apps.billing.plan_state import scheduled_change
from tests.stripe_events import load_fixture, make_event

from .harness import deliver

pytestmark = pytest.mark.django_db
PERIOD_START, PERIOD_END = 1767225600, 1769904000
CREATED = 1768000000


@pytest.fixture
def enterprise(make_subscription: Any) -> Any:
    """A local Enterprise subscription in its first period (that of the schedule fixture)."""
    return make_subscription(
        price_id="price_test_enterprise",
        stripe_subscription_id="sub_1QtestSubscription01",
        current_period_start=datetime.fromtimestamp(PERIOD_START, tz=UTC),
        current_period_end=datetime.fromtimestamp(PERIOD_END, tz=UTC),
    )


def schedule(**overrides: Any) -> dict[str, Any]:
    return load_fixture("subscription_schedule", **overrides)


def from_subscription() -> dict[str, Any]:
    """The schedule as `from_subscription` creates it: one phase, the current plan."""
    created = schedule()
    created["phases"] = copy.deepcopy(created["phases"][:1])
    return created


def send(client: Any, event_type: str, obj: dict[str, Any], at: int) -> None:
    assert deliver(client, make_event(event_type, obj, created=at)).status_code == 200


def test_a_downgrade_shows_until_its_phase_starts(client, enterprise):
    send(client, "subscription_schedule.created", from_subscription(), CREATED)
    assert scheduled_change(enterprise) is None  # one phase: nothing changes yet
    send(client, "subscription_schedule.updated", schedule(), CREATED + 1)
    change = scheduled_change(enterprise)
    assert change is not None and change.plan_name == "Pro"
    assert change.at == datetime.fromtimestamp(PERIOD_END, tz=UTC)

    # The phase started: the subscription's period (from its webhook) begins there.
    enterprise.current_period_start = change.at
    enterprise.save()
    assert scheduled_change(enterprise) is None


def test_events_of_one_second_in_any_order(client, enterprise):
    send(client, "subscription_schedule.updated", schedule(), CREATED)
    send(client, "subscription_schedule.created", from_subscription(), CREATED)
    assert scheduled_change(enterprise).plan_name == "Pro"


def test_a_released_schedule_never_opens_again(client, enterprise):
    released = schedule(
        status="released",
        current_phase=None,
        subscription=None,
        released_subscription="sub_1QtestSubscription01",
        released_at=CREATED + 5,
    )
    send(client, "subscription_schedule.released", released, CREATED + 5)
    send(client, "subscription_schedule.updated", schedule(), CREATED + 1)  # late
    row = SubscriptionSchedule.objects.get()
    assert row.status == "released"
    assert row.stripe_subscription_id == "sub_1QtestSubscription01"
    assert scheduled_change(enterprise) is None


def test_staff_see_schedules_read_only(client, django_user_model, enterprise):
    send(client, "subscription_schedule.updated", schedule(), CREATED)
    staff = django_user_model.objects.create_superuser(email="staff@example.com", password="pw")
    client.force_login(staff)
    page = client.get("/admin/billing/subscriptionschedule/")
    assert page.status_code == 200 and "sub_sched_1QtestSchedule0001" in page.content.decode()
    row = SubscriptionSchedule.objects.get()
    detail = client.get(f"/admin/billing/subscriptionschedule/{row.pk}/change/").content.decode()
    assert 'name="_save"' not in detail


@pytest.mark.parametrize(
    "broken",
    [{"phases": "x"}, {"current_phase": 3}, {"phases": [{"items": [{"price": 7}]}]}],
    ids=["phases", "current_phase", "phase_price"],
)
def test_a_malformed_schedule_is_refused(client, broken):
    response = deliver(client, make_event("subscription_schedule.updated", schedule(**broken)))
    assert response.status_code == 400
    assert not SubscriptionSchedule.objects.exists()
