from __future__ import annotations

# Subscription schedules: made from a subscription, phases changed, released, canceled, and
# phases applied as fake time passes their end.
from typing import Any

import pytest
import stripe

from fakestripe import FakeStripe

from .helpers import customer_with_card, event_types, monthly_price

DAY = 86400


def _subscription(quantity: int = 1, amount: int = 1000) -> tuple[Any, Any]:
    price = monthly_price(amount, "Team")
    cus = customer_with_card()
    sub = stripe.Subscription.create(
        customer=cus.id, items=[{"price": price.id, "quantity": quantity}]
    )
    return sub, price


def _current_phase(schedule: Any) -> dict[str, Any]:
    phase = schedule.phases[0]
    return {
        "start_date": phase.start_date,
        "end_date": phase.end_date,
        "items": [{"price": item.price, "quantity": item.quantity} for item in phase["items"]],
    }


def test_schedule_from_subscription(fake: FakeStripe) -> None:
    sub, price = _subscription(quantity=2)
    item = sub["items"].data[0]
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    assert schedule.id.startswith("sub_sched_")
    assert schedule.status == "active" and schedule.end_behavior == "release"
    assert schedule.subscription == sub.id and schedule.customer == sub.customer
    assert len(schedule.phases) == 1
    phase = schedule.phases[0]
    assert (phase.start_date, phase.end_date) == (
        item.current_period_start,
        item.current_period_end,
    )
    assert [(i.price, i.quantity) for i in phase["items"]] == [(price.id, 2)]
    assert schedule.current_phase.end_date == item.current_period_end
    assert stripe.Subscription.retrieve(sub.id).schedule == schedule.id
    assert event_types(fake)[-2:] == [
        "subscription_schedule.created",
        "customer.subscription.updated",
    ]
    assert stripe.SubscriptionSchedule.retrieve(schedule.id).id == schedule.id
    listed = stripe.SubscriptionSchedule.list(customer=sub.customer)
    assert [s.id for s in listed.data] == [schedule.id]


def test_next_phase_applies_at_period_end_without_proration(fake: FakeStripe) -> None:
    sub, price = _subscription(quantity=5)
    small = monthly_price(600, "Small")
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    current = _current_phase(schedule)
    schedule = stripe.SubscriptionSchedule.modify(
        schedule.id,
        phases=[current, {"items": [{"price": small.id, "quantity": 2}], "iterations": 1}],
        end_behavior="release",
    )
    assert len(schedule.phases) == 2
    second = schedule.phases[1]
    assert second.start_date == current["end_date"]
    assert 28 * DAY <= second.end_date - second.start_date <= 31 * DAY
    assert fake.events("subscription_schedule.updated")
    # The next invoice's preview follows the schedule.
    preview = stripe.Invoice.create_preview(subscription=sub.id)
    assert [(line.amount, line.quantity) for line in preview.lines.data] == [(1200, 2)]
    # Nothing changes before the phase ends.
    assert stripe.Subscription.retrieve(sub.id)["items"].data[0].quantity == 5
    fake.advance(days=32)
    after = stripe.Subscription.retrieve(sub.id)
    item = after["items"].data[0]
    assert (item.price.id, item.quantity) == (small.id, 2)
    assert item.current_period_start == current["end_date"]
    renewal = stripe.Invoice.retrieve(after.latest_invoice)
    assert renewal.billing_reason == "subscription_cycle"
    assert [(line.amount, line.quantity) for line in renewal.lines.data] == [(1200, 2)]
    schedule = stripe.SubscriptionSchedule.retrieve(schedule.id)
    assert schedule.current_phase.start_date == current["end_date"]
    updates = [e for e in fake.events("customer.subscription.updated")]
    assert updates[-1]["data"]["object"]["items"]["data"][0]["quantity"] == 2


def test_schedule_completes_and_releases_the_subscription(fake: FakeStripe) -> None:
    sub, price = _subscription(quantity=3)
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    current = _current_phase(schedule)
    stripe.SubscriptionSchedule.modify(
        schedule.id,
        phases=[current, {"items": [{"price": price.id, "quantity": 1}], "iterations": 1}],
    )
    fake.advance(days=32)
    assert stripe.SubscriptionSchedule.retrieve(schedule.id).status == "active"
    fake.advance(days=31)
    schedule = stripe.SubscriptionSchedule.retrieve(schedule.id)
    assert schedule.status == "completed" and schedule.completed_at is not None
    assert schedule.current_phase is None
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub.status == "active" and sub.schedule is None
    assert sub["items"].data[0].quantity == 1
    assert "subscription_schedule.completed" in event_types(fake)


def test_end_behavior_cancel_cancels_at_the_end(fake: FakeStripe) -> None:
    sub, price = _subscription()
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    end = schedule.phases[0].end_date
    stripe.SubscriptionSchedule.modify(schedule.id, end_behavior="cancel")
    # The subscription shows when the schedule will cancel it; release takes that back.
    assert stripe.Subscription.retrieve(sub.id).cancel_at == end
    prev = fake.events("customer.subscription.updated")[-1]["data"]["previous_attributes"]
    assert prev == {"cancel_at": None}
    stripe.SubscriptionSchedule.modify(schedule.id, end_behavior="release")
    assert stripe.Subscription.retrieve(sub.id).cancel_at is None
    stripe.SubscriptionSchedule.modify(schedule.id, end_behavior="cancel")
    fake.advance(days=32)
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == end
    assert len(stripe.Invoice.list(subscription=sub.id).data) == 1  # no renewal
    assert stripe.SubscriptionSchedule.retrieve(schedule.id).status == "completed"
    assert "subscription_schedule.completed" in [e["type"] for e in fake.events()]


def test_release_keeps_a_cancel_date_only_when_asked(fake: FakeStripe) -> None:
    for preserve, expected in ((False, None), (True, "end")):
        sub, price = _subscription()
        schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
        stripe.SubscriptionSchedule.modify(schedule.id, end_behavior="cancel")
        stripe.SubscriptionSchedule.release(schedule.id, preserve_cancel_date=preserve)
        end = schedule.phases[0].end_date
        assert stripe.Subscription.retrieve(sub.id).cancel_at == (end if expected else None)


def test_changing_the_current_phase_updates_the_subscription_now(fake: FakeStripe) -> None:
    sub, price = _subscription(quantity=2)
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    fake.advance(days=10)
    current = _current_phase(schedule)
    current["items"] = [{"price": price.id, "quantity": 4}]
    stripe.SubscriptionSchedule.modify(
        schedule.id, phases=[current], proration_behavior="always_invoice"
    )
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub["items"].data[0].quantity == 4
    invoice = stripe.Invoice.retrieve(sub.latest_invoice)
    assert invoice.billing_reason == "subscription_update"
    assert [line.quantity for line in invoice.lines.data] == [2, 4]


def test_mid_period_phase_end_prorates(fake: FakeStripe) -> None:
    sub, price = _subscription(quantity=1)
    bigger = monthly_price(3000, "Bigger")
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    current = _current_phase(schedule)
    switch_at = current["start_date"] + 10 * DAY
    current["end_date"] = switch_at
    stripe.SubscriptionSchedule.modify(
        schedule.id,
        phases=[
            current,
            {
                "items": [{"price": bigger.id}],
                "proration_behavior": "always_invoice",
                "iterations": 1,
            },
        ],
    )
    fake.advance(days=11)
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub["items"].data[0].price.id == bigger.id
    invoice = stripe.Invoice.retrieve(sub.latest_invoice)
    item = sub["items"].data[0]
    frac = (item.current_period_end - switch_at) / (
        item.current_period_end - item.current_period_start
    )
    assert [line.amount for line in invoice.lines.data] == [
        -round(1000 * frac),
        round(3000 * frac),
    ]


def test_release_keeps_the_subscription(fake: FakeStripe) -> None:
    sub, price = _subscription()
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    released = stripe.SubscriptionSchedule.release(schedule.id)
    assert released.status == "released" and released.released_at is not None
    assert released.released_subscription == sub.id and released.subscription is None
    after = stripe.Subscription.retrieve(sub.id)
    assert after.schedule is None and after.status == "active"
    assert event_types(fake)[-2:] == [
        "customer.subscription.updated",
        "subscription_schedule.released",
    ]
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.release(schedule.id)
    assert "`released` status" in info.value.user_message
    # A released subscription can get a new schedule.
    assert stripe.SubscriptionSchedule.create(from_subscription=sub.id).status == "active"


def test_cancel_cancels_the_subscription(fake: FakeStripe) -> None:
    sub, price = _subscription()
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    fake.advance(days=10)
    item = sub["items"].data[0]
    now = fake.now()
    canceled = stripe.SubscriptionSchedule.cancel(schedule.id)
    # invoice_now and prorate default to true: a final invoice credits the unused time.
    final = stripe.Invoice.retrieve(stripe.Subscription.retrieve(sub.id).latest_invoice)
    frac = (item.current_period_end - now) / (item.current_period_end - item.current_period_start)
    assert [line.amount for line in final.lines.data] == [-round(1000 * frac)]
    assert canceled.status == "canceled" and canceled.canceled_at is not None
    assert stripe.Subscription.retrieve(sub.id).status == "canceled"
    types = event_types(fake)
    assert types[-2:] == ["customer.subscription.deleted", "subscription_schedule.canceled"]
    assert types.count("subscription_schedule.canceled") == 1
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.modify(schedule.id, end_behavior="cancel")
    assert info.value.user_message.startswith(
        "You cannot update a subscription schedule that is currently in the `canceled` status."
    )
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.cancel(schedule.id)
    assert "to be canceled." in info.value.user_message


def test_canceling_the_subscription_cancels_its_schedule(fake: FakeStripe) -> None:
    sub, price = _subscription()
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    stripe.Subscription.cancel(sub.id)
    assert stripe.SubscriptionSchedule.retrieve(schedule.id).status == "canceled"


def test_schedule_errors(fake: FakeStripe) -> None:
    sub, price = _subscription()
    schedule = stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    fake.advance(days=2)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    assert schedule.id in info.value.user_message and info.value.param == "from_subscription"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Subscription.modify(sub.id, cancel_at_period_end=True)
    assert "managed by the subscription schedule" in info.value.user_message
    current = _current_phase(schedule)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.modify(
            schedule.id, phases=[{**current, "start_date": current["start_date"] + DAY}]
        )
    assert info.value.param == "phases[0][start_date]"
    past = current["start_date"] - DAY
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.modify(
            schedule.id, phases=[{**current, "end_date": current["start_date"] + DAY}]
        )
    assert info.value.param == "phases[0][end_date]"
    assert "in the past" in info.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.modify(
            schedule.id,
            phases=[current, {"items": current["items"], "start_date": past, "iterations": 1}],
        )
    assert info.value.param == "phases[1][start_date]"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.modify(
            schedule.id, phases=[{**current, "items": [{"price": "price_nope"}]}]
        )
    assert info.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.create(from_subscription="sub_nope")
    assert info.value.code == "resource_missing"
    stripe.SubscriptionSchedule.release(schedule.id)
    stripe.Subscription.cancel(sub.id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.create(from_subscription=sub.id)
    assert "`canceled`" in info.value.user_message
    # Nothing above changed the schedule or the subscription's items.
    assert (
        stripe.SubscriptionSchedule.retrieve(schedule.id).phases[0].end_date == current["end_date"]
    )


def test_schedule_from_customer_and_phases_creates_the_subscription(fake: FakeStripe) -> None:
    cus = customer_with_card()
    intro = monthly_price(500, "Intro")
    regular = monthly_price(2000, "Regular")
    schedule = stripe.SubscriptionSchedule.create(
        customer=cus.id,
        start_date="now",
        end_behavior="release",
        phases=[
            {"items": [{"price": intro.id}], "iterations": 2},
            {"items": [{"price": regular.id, "quantity": 2}], "iterations": 1},
        ],
    )
    sub = stripe.Subscription.retrieve(schedule.subscription)
    assert sub.status == "active" and sub.schedule == schedule.id
    assert stripe.Invoice.retrieve(sub.latest_invoice).amount_paid == 500
    first, second = schedule.phases
    assert first.start_date == sub["items"].data[0].current_period_start
    assert second.start_date == first.end_date
    assert 59 * DAY <= first.end_date - first.start_date <= 62 * DAY
    totals = []
    for _ in range(3):
        fake.advance(days=31)
        totals.append(
            stripe.Invoice.retrieve(stripe.Subscription.retrieve(sub.id).latest_invoice).total
        )
    assert totals == [500, 4000, 4000]
    assert stripe.SubscriptionSchedule.retrieve(schedule.id).status == "completed"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionSchedule.create(
            customer=cus.id,
            phases=[
                {"items": [{"price": intro.id}]},
                {"items": [{"price": regular.id}], "start_date": 1},
            ],
        )
    assert info.value.param == "phases[1][start_date]"
    assert len(stripe.Subscription.list(customer=cus.id).data) == 1  # nothing created
