from __future__ import annotations

# Invoice previews (create_preview) and the subscription updates they preview: the preview's
# lines must be what the update then bills, to the cent.
from typing import Any

import pytest
import stripe

from fakestripe import FakeStripe

from .helpers import customer_with_card, event_types, monthly_price, set_default_card

DAY = 86400


def _seats(fake: FakeStripe, quantity: int = 3, unit: int = 500) -> tuple[Any, Any, Any]:
    """A customer 10 days into a monthly per-seat subscription: (subscription, item, price)."""
    seat = monthly_price(unit, "Seat")
    cus = customer_with_card()
    sub = stripe.Subscription.create(
        customer=cus.id, items=[{"price": seat.id, "quantity": quantity}]
    )
    fake.advance(days=10)
    sub = stripe.Subscription.retrieve(sub.id)
    return sub, sub["items"].data[0], seat


def _remaining(item: Any, at: int) -> float:
    start, end = item.current_period_start, item.current_period_end
    return (end - at) / (end - start)


def _shape(lines: Any) -> list[tuple[int, str, int, bool]]:
    return [
        (
            line.amount,
            line.description,
            line.quantity,
            line.parent.subscription_item_details.proration,
        )
        for line in lines
    ]


def test_preview_of_a_quantity_change_then_always_invoice_bills_the_same(
    fake: FakeStripe,
) -> None:
    sub, item, seat = _seats(fake)
    pdate = fake.now()
    frac = _remaining(item, pdate)
    change = [{"id": item.id, "price": seat.id, "quantity": 5}]
    preview = stripe.Invoice.create_preview(
        customer=sub.customer,
        subscription=sub.id,
        subscription_details={
            "items": change,
            "proration_date": pdate,
            "proration_behavior": "always_invoice",
        },
    )
    assert preview.id.startswith("upcoming_in_")
    assert preview.billing_reason == "upcoming" and preview.status == "draft"
    credit, charge = preview.lines.data
    assert credit.amount == -round(1500 * frac) and charge.amount == round(2500 * frac)
    assert credit.description.startswith("Unused time on 3 × Seat after")
    assert charge.description.startswith("Remaining time on 5 × Seat after")
    assert preview.subtotal == preview.total == preview.amount_due == credit.amount + charge.amount
    assert preview.parent.subscription_details.subscription == sub.id
    assert preview.parent.subscription_details.subscription_proration_date == pdate
    # Previewing changes nothing.
    assert stripe.Subscription.retrieve(sub.id)["items"].data[0].quantity == 3
    assert stripe.Invoice.list(subscription=sub.id).data[0].id != preview.id
    updated = stripe.Subscription.modify(
        sub.id, items=change, proration_date=pdate, proration_behavior="always_invoice"
    )
    invoice = stripe.Invoice.retrieve(updated.latest_invoice)
    assert _shape(invoice.lines.data) == _shape(preview.lines.data)
    assert invoice.amount_paid == preview.amount_due and invoice.status == "paid"
    assert invoice.billing_reason == "subscription_update"
    assert event_types(fake)[-7:] == [
        "customer.subscription.updated",
        "invoiceitem.created",
        "invoiceitem.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]


def test_preview_with_create_prorations_shows_the_next_invoice(fake: FakeStripe) -> None:
    sub, item, seat = _seats(fake)
    pdate = fake.now()
    frac = _remaining(item, pdate)
    change = [{"id": item.id, "quantity": 4}]
    preview = stripe.Invoice.create_preview(
        subscription=sub.id,
        subscription_details={"items": change, "proration_date": pdate},
    )
    credit, charge, renewal = preview.lines.data
    assert credit.amount == -round(1500 * frac) and charge.amount == round(2000 * frac)
    assert renewal.amount == 2000 and renewal.quantity == 4
    assert renewal.parent.subscription_item_details.proration is False
    assert renewal.period.start == item.current_period_end
    assert preview.period_start == item.current_period_start
    assert preview.period_end == item.current_period_end
    assert preview.amount_due == credit.amount + charge.amount + 2000
    stripe.Subscription.modify(sub.id, items=change, proration_date=pdate)
    # Nothing is billed now; the prorations wait for the renewal, which matches the preview.
    assert len(stripe.Invoice.list(subscription=sub.id).data) == 1
    fake.advance(days=25)
    invoice = stripe.Invoice.list(subscription=sub.id).data[0]
    assert invoice.billing_reason == "subscription_cycle"
    assert _shape(invoice.lines.data) == _shape(preview.lines.data)
    assert invoice.amount_paid == preview.amount_due


def test_preview_without_changes_is_the_renewal(fake: FakeStripe) -> None:
    sub, item, _ = _seats(fake, quantity=2)
    preview = stripe.Invoice.create_preview(customer=sub.customer, subscription=sub.id)
    assert [(line.amount, line.quantity) for line in preview.lines.data] == [(1000, 2)]
    assert preview.amount_due == 1000
    assert "subscription_proration_date" not in preview.parent.subscription_details
    assert preview.lines.data[0].id.startswith("il_tmp_")


def test_preview_of_a_price_change_matches_the_update(fake: FakeStripe) -> None:
    sub, item, _ = _seats(fake, quantity=1)
    premium = monthly_price(3000, "Premium")
    pdate = fake.now()
    change = [{"id": item.id, "price": premium.id}]
    details = {"items": change, "proration_date": pdate, "proration_behavior": "always_invoice"}
    preview = stripe.Invoice.create_preview(subscription=sub.id, subscription_details=details)
    updated = stripe.Subscription.modify(
        sub.id, items=change, proration_date=pdate, proration_behavior="always_invoice"
    )
    invoice = stripe.Invoice.retrieve(updated.latest_invoice)
    assert _shape(invoice.lines.data) == _shape(preview.lines.data)
    assert invoice.total == preview.total


def test_preview_of_an_interval_change_shows_the_new_period(fake: FakeStripe) -> None:
    sub, item, seat = _seats(fake, quantity=1)
    yearly = stripe.Price.create(
        product=seat.product, unit_amount=5000, currency="usd", recurring={"interval": "year"}
    )
    change = [{"id": item.id, "price": yearly.id}]
    preview = stripe.Invoice.create_preview(
        subscription=sub.id, subscription_details={"items": change}
    )
    credit, charge = preview.lines.data
    assert credit.amount == -round(500 * _remaining(item, fake.now()))
    assert charge.amount == 5000 and charge.parent.subscription_item_details.proration is False
    updated = stripe.Subscription.modify(sub.id, items=change)
    invoice = stripe.Invoice.retrieve(updated.latest_invoice)
    assert [line.amount for line in invoice.lines.data] == [credit.amount, 5000]


def test_preview_adding_an_item(fake: FakeStripe) -> None:
    sub, item, _ = _seats(fake, quantity=1)
    addon = monthly_price(800, "Support")
    pdate = fake.now()
    details = {"items": [{"price": addon.id}], "proration_date": pdate}
    preview = stripe.Invoice.create_preview(subscription=sub.id, subscription_details=details)
    charge, seats, support = preview.lines.data
    assert charge.amount == round(800 * _remaining(item, pdate))
    assert (seats.amount, support.amount) == (500, 800)
    stripe.Subscription.modify(sub.id, items=[{"price": addon.id}], proration_date=pdate)
    fake.advance(days=25)
    invoice = stripe.Invoice.list(subscription=sub.id).data[0]
    assert _shape(invoice.lines.data) == _shape(preview.lines.data)


def test_preview_errors(fake: FakeStripe) -> None:
    sub, item, _ = _seats(fake)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Invoice.create_preview(
            subscription=sub.id, subscription_details={"proration_date": 1}
        )
    assert info.value.param == "proration_date"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Invoice.create_preview(
            subscription=sub.id, subscription_details={"items": [{"id": "si_nope"}]}
        )
    assert "si_nope" in info.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Invoice.create_preview(subscription="sub_nope")
    assert info.value.code == "resource_missing"
    stripe.Subscription.cancel(sub.id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Invoice.create_preview(subscription=sub.id)
    assert info.value.code == "invoice_upcoming_none"
    assert info.value.user_message == f"No upcoming invoices for customer: {sub.customer}"


def test_preview_of_a_subscription_ending_at_period_end_has_no_renewal(fake: FakeStripe) -> None:
    sub, item, _ = _seats(fake)
    stripe.Subscription.modify(sub.id, cancel_at_period_end=True)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Invoice.create_preview(subscription=sub.id)
    assert info.value.code == "invoice_upcoming_none"


def test_error_if_incomplete_with_a_declining_card_changes_nothing(fake: FakeStripe) -> None:
    sub, item, seat = _seats(fake)
    set_default_card(sub.customer, "pm_card_chargeCustomerFail")
    events_before = len(fake.events())
    with pytest.raises(stripe.CardError) as info:
        stripe.Subscription.modify(
            sub.id,
            items=[{"id": item.id, "quantity": 5}],
            proration_behavior="always_invoice",
            payment_behavior="error_if_incomplete",
        )
    assert info.value.code == "card_declined"
    after = stripe.Subscription.retrieve(sub.id)
    assert after["items"].data[0].quantity == 3 and after.status == "active"
    assert after.latest_invoice == sub.latest_invoice
    assert len(fake.events()) == events_before
    # A change that bills nothing now goes through with the same card.
    stripe.Subscription.modify(
        sub.id, items=[{"id": item.id, "quantity": 2}], payment_behavior="error_if_incomplete"
    )
    assert stripe.Subscription.retrieve(sub.id)["items"].data[0].quantity == 2


def test_quantity_change_without_prorations(fake: FakeStripe) -> None:
    sub, item, _ = _seats(fake)
    stripe.Subscription.modify(
        sub.id, items=[{"id": item.id, "quantity": 6}], proration_behavior="none"
    )
    fake.advance(days=25)
    invoice = stripe.Invoice.list(subscription=sub.id).data[0]
    assert [(line.amount, line.quantity) for line in invoice.lines.data] == [(3000, 6)]


def test_cancel_at_period_end_and_resume_send_updates(fake: FakeStripe) -> None:
    sub, item, _ = _seats(fake)
    end = item.current_period_end
    stripe.Subscription.modify(sub.id, cancel_at_period_end=True)
    resumed = stripe.Subscription.modify(sub.id, cancel_at_period_end=False)
    assert resumed.cancel_at is None and resumed.cancel_at_period_end is False
    updates = fake.events("customer.subscription.updated")[-2:]
    assert updates[0]["data"]["previous_attributes"]["cancel_at"] is None
    assert updates[1]["data"]["previous_attributes"]["cancel_at"] == end
    # cancel_at (what the portal sets in flexible mode) and clearing it
    at = stripe.Subscription.modify(sub.id, cancel_at=end)
    assert at.cancel_at == end and at.cancel_at_period_end is False
    cleared = stripe.Subscription.modify(sub.id, cancel_at="")
    assert cleared.cancel_at is None and cleared.canceled_at is None
    assert (
        fake.events("customer.subscription.updated")[-1]["data"]["previous_attributes"]["cancel_at"]
        == end
    )
    fake.advance(days=25)
    renewed = stripe.Subscription.retrieve(sub.id)
    assert renewed.status == "active"
    assert renewed["items"].data[0].current_period_start == end


def test_prorations_are_pending_invoice_items_until_invoiced(fake: FakeStripe) -> None:
    sub, item, seat = _seats(fake)
    pdate = fake.now()
    stripe.Subscription.modify(sub.id, items=[{"id": item.id, "quantity": 4}], proration_date=pdate)
    pending = stripe.InvoiceItem.list(customer=sub.customer, pending=True).data
    assert sorted(ii.amount for ii in pending) == sorted(
        [-round(1500 * _remaining(item, pdate)), round(2000 * _remaining(item, pdate))]
    )
    assert all(ii.invoice is None and ii.proration for ii in pending)
    assert {ii.parent.subscription_details.subscription for ii in pending} == {sub.id}
    assert fake.events("invoiceitem.created")
    fake.advance(days=25)
    renewal = stripe.Invoice.list(subscription=sub.id).data[0]
    assert stripe.InvoiceItem.list(customer=sub.customer, pending=True).data == []
    invoiced = stripe.InvoiceItem.list(invoice=renewal.id).data
    assert {ii.id for ii in invoiced} == {ii.id for ii in pending}
    line_items = {line.parent.subscription_item_details.invoice_item for line in renewal.lines.data}
    assert {ii.id for ii in pending} <= line_items
    # always_invoice: the items belong to the invoice made at once.
    stripe.Subscription.modify(
        sub.id, items=[{"id": item.id, "quantity": 6}], proration_behavior="always_invoice"
    )
    now_invoice = stripe.Subscription.retrieve(sub.id).latest_invoice
    assert len(stripe.InvoiceItem.list(invoice=now_invoice).data) == 2
    first = stripe.InvoiceItem.retrieve(pending[0].id)
    assert first.invoice == renewal.id
