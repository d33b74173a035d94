from __future__ import annotations

import pytest
import stripe

from fakestripe import FakeStripe

from .helpers import customer_with_card


def _meter() -> stripe.billing.Meter:
    return stripe.billing.Meter.create(
        display_name="API calls",
        event_name="api_call",
        default_aggregation={"formula": "sum"},
        customer_mapping={"event_payload_key": "stripe_customer_id", "type": "by_id"},
        value_settings={"event_payload_key": "value"},
    )


def test_meter_crud(fake: FakeStripe) -> None:
    meter = _meter()
    assert meter.id.startswith("mtr_") and meter.status == "active"
    assert meter.default_aggregation.formula == "sum"
    assert stripe.billing.Meter.retrieve(meter.id).event_name == "api_call"
    renamed = stripe.billing.Meter.modify(meter.id, display_name="Calls")
    assert renamed.display_name == "Calls"
    with pytest.raises(stripe.InvalidRequestError):
        _meter()  # duplicate active event_name
    off = stripe.billing.Meter.deactivate(meter.id)
    assert off.status == "inactive" and off.status_transitions.deactivated_at is not None
    assert [m.id for m in stripe.billing.Meter.list(status="inactive").data] == [meter.id]
    assert stripe.billing.Meter.reactivate(meter.id).status == "active"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.billing.Meter.create(display_name="x", event_name="y")
    assert info.value.param == "default_aggregation"


def test_metered_price_requires_meter(fake: FakeStripe) -> None:
    product = stripe.Product.create(name="API")
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Price.create(
            product=product.id,
            currency="usd",
            unit_amount=1,
            recurring={"interval": "month", "usage_type": "metered"},
        )
    assert info.value.param == "recurring[meter]"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Price.create(
            product=product.id,
            currency="usd",
            unit_amount=1,
            recurring={"interval": "month", "usage_type": "metered", "aggregate_usage": "sum"},
        )
    assert info.value.param == "recurring[aggregate_usage]"
    meter = _meter()
    price = stripe.Price.create(
        product=product.id,
        currency="usd",
        unit_amount_decimal="0.5",
        recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
    )
    assert price.recurring.meter == meter.id and price.recurring.usage_type == "metered"
    assert price.unit_amount is None and str(price.unit_amount_decimal) == "0.5"


def test_meter_events_idempotency_and_summaries(fake: FakeStripe) -> None:
    meter = _meter()
    cus = stripe.Customer.create()
    start = fake.now() // 3600 * 3600 - 3600
    for n, value in enumerate(("5", "7", "11")):
        ev = stripe.billing.MeterEvent.create(
            event_name="api_call",
            identifier=f"req-{n}",
            timestamp=start + 60 * n,
            payload={"stripe_customer_id": cus.id, "value": value},
        )
        assert ev.identifier == f"req-{n}" and ev.payload["value"] == value
    # same identifier again: accepted but not counted twice
    again = stripe.billing.MeterEvent.create(
        event_name="api_call",
        identifier="req-0",
        payload={"stripe_customer_id": cus.id, "value": "1000"},
    )
    assert again.payload["value"] == "5"
    auto = stripe.billing.MeterEvent.create(
        event_name="api_call", payload={"stripe_customer_id": cus.id, "value": "1"}
    )
    assert auto.identifier

    end = start + 2 * 3600
    total = stripe.billing.Meter.list_event_summaries(
        meter.id, customer=cus.id, start_time=start, end_time=end
    )
    assert [s.aggregated_value for s in total.data] == [24.0]
    assert total.data[0].meter == meter.id
    hourly = stripe.billing.Meter.list_event_summaries(
        meter.id, customer=cus.id, start_time=start, end_time=end, value_grouping_window="hour"
    )
    assert [s.aggregated_value for s in hourly.data] == [23.0, 1.0]
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.billing.Meter.list_event_summaries(
            meter.id, customer=cus.id, start_time=start + 1, end_time=end
        )
    assert info.value.param == "start_time"


def test_meter_event_validation(fake: FakeStripe) -> None:
    _meter()
    cus = stripe.Customer.create()
    cases = [
        ({"payload": {"stripe_customer_id": cus.id, "value": "1"}}, "event_name"),
        ({"event_name": "api_call", "payload": {"value": "1"}}, "payload[stripe_customer_id]"),
        (
            {"event_name": "api_call", "payload": {"stripe_customer_id": cus.id, "value": "abc"}},
            "payload[value]",
        ),
        (
            {
                "event_name": "api_call",
                "timestamp": fake.now() - 40 * 86400,
                "payload": {"stripe_customer_id": cus.id, "value": "1"},
            },
            "timestamp",
        ),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as info:
            stripe.billing.MeterEvent.create(**params)
        assert info.value.param == param


def test_metered_usage_is_invoiced_in_arrears(fake: FakeStripe) -> None:
    meter = _meter()
    product = stripe.Product.create(name="API calls")
    metered = stripe.Price.create(
        product=product.id,
        currency="usd",
        unit_amount=2,
        recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
    )
    base = stripe.Price.create(
        product=product.id, currency="usd", unit_amount=1000, recurring={"interval": "month"}
    )
    cus = customer_with_card()
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Subscription.create(customer=cus.id, items=[{"price": metered.id, "quantity": 1}])
    sub = stripe.Subscription.create(
        customer=cus.id, items=[{"price": base.id}, {"price": metered.id}]
    )
    first = stripe.Invoice.retrieve(sub.latest_invoice)
    assert first.amount_paid == 1000
    metered_item = next(i for i in sub["items"].data if i.price.id == metered.id)
    assert metered_item.quantity is None
    for _ in range(3):
        stripe.billing.MeterEvent.create(
            event_name="api_call", payload={"stripe_customer_id": cus.id, "value": "100"}
        )
    fake.advance(days=32)
    renewal = stripe.Invoice.retrieve(stripe.Subscription.retrieve(sub.id).latest_invoice)
    usage_line = next(
        line for line in renewal.lines.data if line.pricing.price_details.price == metered.id
    )
    assert usage_line.quantity == 300 and usage_line.amount == 600
    assert usage_line.period.end == renewal.period_end
    assert renewal.amount_paid == 1600
