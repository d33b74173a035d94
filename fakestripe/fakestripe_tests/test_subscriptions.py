from __future__ import annotations

import pytest
import stripe

from fakestripe import FakeStripe

from .helpers import customer_with_card, event_types, monthly_price, set_default_card

DAY = 86400


def _sub(customer: str, price: str, **extra: object) -> stripe.Subscription:
    return stripe.Subscription.create(customer=customer, items=[{"price": price}], **extra)


def test_create_active_with_periods_on_items(fake: FakeStripe) -> None:
    price = monthly_price(1500)
    cus = customer_with_card()
    sub = _sub(cus.id, price.id, metadata={"org": "acme"}, expand=["latest_invoice"])
    assert sub.status == "active"
    assert sub.billing_mode.type == "flexible"
    assert "current_period_start" not in sub and "current_period_end" not in sub
    item = sub["items"].data[0]
    assert item.price.id == price.id and item.plan.id == price.id and item.quantity == 1
    assert item.current_period_start == sub.start_date
    # one calendar month later
    assert 28 * DAY <= item.current_period_end - item.current_period_start <= 31 * DAY
    invoice = sub.latest_invoice
    assert invoice.status == "paid" and invoice.amount_paid == 1500
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.parent.subscription_details.metadata.to_dict() == {"org": "acme"}
    assert invoice.period_start == invoice.period_end == sub.created
    assert invoice.number.endswith("-0001")
    created = fake.events("customer.subscription.created")[0]["data"]["object"]
    assert created["status"] == "active" and created["latest_invoice"] == invoice.id
    assert event_types(fake)[-4:] == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]


def test_authentication_required_card_makes_incomplete(fake: FakeStripe) -> None:
    price = monthly_price(1500)
    cus = customer_with_card("pm_card_authenticationRequired")
    sub = _sub(cus.id, price.id, expand=["latest_invoice.confirmation_secret"])
    assert sub.status == "incomplete"
    assert sub.latest_invoice.status == "open"
    assert sub.latest_invoice.confirmation_secret.client_secret.startswith("pi_")
    assert "invoice.payment_action_required" in event_types(fake)
    with pytest.raises(stripe.CardError) as info:
        stripe.Invoice.pay(sub.latest_invoice.id)
    assert info.value.code == "invoice_payment_intent_requires_action"

    # The hosted invoice page runs the 3DS challenge and pays.
    page = fake.page(
        sub.latest_invoice.hosted_invoice_url,
        {"card_number": "4000002500003155", "card_expiry": "12/34", "card_cvc": "123"},
    )
    assert page.status == 200 and "3D Secure" in page.text
    assert fake.page(f"/i/{sub.latest_invoice.id}/3ds", {"decision": "complete"}).status == 303
    assert stripe.Subscription.retrieve(sub.id).status == "active"


def test_3155_token_is_incomplete_and_expires(fake: FakeStripe) -> None:
    price = monthly_price()
    cus = customer_with_card("pm_card_authenticationRequiredOnSetup")
    sub = _sub(cus.id, price.id)
    assert sub.status == "incomplete"
    fake.advance(hours=24)
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub.status == "incomplete_expired"
    assert stripe.Invoice.retrieve(sub.latest_invoice).status == "void"


def test_error_if_incomplete_and_declines(fake: FakeStripe) -> None:
    price = monthly_price()
    cus = customer_with_card("pm_card_chargeCustomerFail")
    with pytest.raises(stripe.CardError) as info:
        _sub(cus.id, price.id, payment_behavior="error_if_incomplete")
    assert info.value.code == "card_declined"
    assert stripe.Subscription.list(status="all").data == []
    # allow_incomplete (default) creates an incomplete subscription instead
    sub = _sub(cus.id, price.id)
    assert sub.status == "incomplete"
    assert "invoice.payment_failed" in event_types(fake)
    # paying later with a good card activates it
    pm = stripe.PaymentMethod.attach("pm_card_visa", customer=cus.id)
    paid = stripe.Invoice.pay(sub.latest_invoice, payment_method=pm.id)
    assert paid.status == "paid"
    assert stripe.Subscription.retrieve(sub.id).status == "active"


def test_declined_card_cannot_be_attached(fake: FakeStripe) -> None:
    cus = stripe.Customer.create()
    with pytest.raises(stripe.CardError) as info:
        stripe.PaymentMethod.attach("pm_card_chargeDeclined", customer=cus.id)
    assert info.value.code == "card_declined"
    assert info.value.error.decline_code == "generic_decline"


def test_default_incomplete_and_no_payment_method(fake: FakeStripe) -> None:
    price = monthly_price()
    cus = stripe.Customer.create(email="np@example.com")
    sub = _sub(cus.id, price.id, payment_behavior="default_incomplete")
    assert sub.status == "incomplete"
    inv = stripe.Invoice.retrieve(sub.latest_invoice)
    assert inv.status == "open" and inv.attempt_count == 0
    with pytest.raises(stripe.InvalidRequestError):
        _sub(cus.id, price.id, payment_behavior="error_if_incomplete")


def test_trial_then_clock_activates_with_invoice(fake: FakeStripe) -> None:
    price = monthly_price(1000)
    cus = customer_with_card()
    sub = _sub(cus.id, price.id, trial_period_days=7)
    assert sub.status == "trialing"
    assert sub.trial_end == sub.trial_start + 7 * DAY
    assert sub["items"].data[0].current_period_end == sub.trial_end
    trial_invoice = stripe.Invoice.retrieve(sub.latest_invoice)
    assert trial_invoice.amount_due == 0 and trial_invoice.status == "paid"
    assert trial_invoice.lines.data[0].description == "Trial period for Pro"

    fake.advance(days=7)
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub.status == "active"
    inv = stripe.Invoice.retrieve(sub.latest_invoice)
    assert inv.billing_reason == "subscription_cycle"
    assert inv.amount_paid == 1000
    assert inv.lines.data[0].period.start == sub.trial_end
    updated = fake.events("customer.subscription.updated")[-1]["data"]
    assert updated["previous_attributes"]["status"] == "trialing"


def test_trial_end_now_bills_immediately(fake: FakeStripe) -> None:
    price = monthly_price(1000)
    cus = customer_with_card()
    sub = _sub(cus.id, price.id, trial_period_days=30)
    sub = stripe.Subscription.modify(sub.id, trial_end="now")
    assert sub.status == "active"
    inv = stripe.Invoice.retrieve(sub.latest_invoice)
    assert inv.billing_reason == "subscription_update" and inv.amount_paid == 1000


def test_renewal_via_clock(fake: FakeStripe) -> None:
    price = monthly_price(1500)
    cus = customer_with_card()
    sub = _sub(cus.id, price.id)
    first_end = sub["items"].data[0].current_period_end
    start = fake.now()
    fake.advance(days=31)
    assert fake.now() >= start + 31 * DAY
    sub = stripe.Subscription.retrieve(sub.id)
    item = sub["items"].data[0]
    assert item.current_period_start == first_end
    assert item.current_period_end > first_end
    assert sub.status == "active"
    invoices = stripe.Invoice.list(subscription=sub.id)
    assert [i.billing_reason for i in invoices.data] == [
        "subscription_cycle",
        "subscription_create",
    ]
    renewal = invoices.data[0]
    assert renewal.status == "paid" and renewal.amount_paid == 1500
    assert renewal.period_end == first_end
    assert renewal.created == first_end
    assert renewal.number.endswith("-0002")
    fake.advance(days=62)
    assert len(stripe.Invoice.list(subscription=sub.id).data) == 4


def test_renewal_with_failing_card_goes_past_due_then_recovers(fake: FakeStripe) -> None:
    price = monthly_price(1500)
    cus = customer_with_card()
    sub = _sub(cus.id, price.id)
    set_default_card(cus.id, "pm_card_chargeCustomerFail")
    fake.advance(days=31)
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub.status == "past_due"
    inv = stripe.Invoice.retrieve(sub.latest_invoice)
    assert inv.status == "open" and inv.attempt_count == 1
    assert inv.next_payment_attempt is not None
    failed = fake.events("invoice.payment_failed")
    assert failed and failed[-1]["data"]["object"]["id"] == inv.id
    past_due = fake.events("customer.subscription.updated")[-1]["data"]
    assert past_due["object"]["status"] == "past_due"
    # the smart-retry schedule retries with the new card
    set_default_card(cus.id, "pm_card_visa")
    fake.advance(days=3)
    assert stripe.Invoice.retrieve(inv.id).status == "paid"
    assert stripe.Subscription.retrieve(sub.id).status == "active"


def test_retries_exhausted_cancels(fake: FakeStripe) -> None:
    price = monthly_price(1500)
    cus = customer_with_card()
    sub = _sub(cus.id, price.id)
    set_default_card(cus.id, "pm_card_chargeCustomerFail")
    fake.advance(days=31 + 3 + 5 + 7)
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub.status == "canceled"
    assert sub.cancellation_details.reason == "payment_failed"
    inv = stripe.Invoice.list(subscription=sub.id, status="open").data[0]
    assert inv.attempt_count == 4 and inv.next_payment_attempt is None


def test_cancel_at_period_end_then_clock(fake: FakeStripe) -> None:
    price = monthly_price()
    cus = customer_with_card()
    sub = _sub(cus.id, price.id)
    end = sub["items"].data[0].current_period_end
    sub = stripe.Subscription.modify(
        sub.id, cancel_at_period_end=True, cancellation_details={"feedback": "too_expensive"}
    )
    assert sub.cancel_at_period_end is True
    assert sub.cancel_at == end
    assert sub.cancellation_details.reason == "cancellation_requested"
    assert sub.cancellation_details.feedback == "too_expensive"
    assert sub.status == "active"
    prev = fake.events("customer.subscription.updated")[-1]["data"]["previous_attributes"]
    assert prev["cancel_at_period_end"] is False
    # undo and redo
    sub = stripe.Subscription.modify(sub.id, cancel_at_period_end=False)
    assert sub.cancel_at is None and sub.canceled_at is None
    stripe.Subscription.modify(sub.id, cancel_at_period_end=True)
    fake.advance(days=32)
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == end
    deleted = fake.events("customer.subscription.deleted")
    assert len(deleted) == 1 and deleted[0]["data"]["object"]["status"] == "canceled"
    assert len(stripe.Invoice.list(subscription=sub.id).data) == 1  # no renewal invoice
    assert stripe.Subscription.list(customer=cus.id).data == []
    assert len(stripe.Subscription.list(customer=cus.id, status="canceled").data) == 1


def test_cancel_immediately(fake: FakeStripe) -> None:
    price = monthly_price()
    cus = customer_with_card()
    sub = _sub(cus.id, price.id)
    canceled = stripe.Subscription.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.ended_at is not None
    assert event_types(fake)[-1] == "customer.subscription.deleted"
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Subscription.cancel(sub.id)
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Subscription.modify(sub.id, cancel_at_period_end=True)
    # metadata can still be updated
    assert stripe.Subscription.modify(sub.id, metadata={"a": "b"}).metadata.to_dict() == {"a": "b"}


def _upgrade_setup(fake: FakeStripe) -> tuple[stripe.Subscription, stripe.Price]:
    basic = monthly_price(1000, "Basic")
    premium = monthly_price(3000, "Premium")
    cus = customer_with_card()
    sub = _sub(cus.id, basic.id)
    fake.advance(days=15)
    return stripe.Subscription.retrieve(sub.id), premium


def _fraction(sub: stripe.Subscription, at: int) -> float:
    item = sub["items"].data[0]
    return (item.current_period_end - at) / (item.current_period_end - item.current_period_start)


def test_proration_always_invoice(fake: FakeStripe) -> None:
    sub, premium = _upgrade_setup(fake)
    item = sub["items"].data[0]
    pdate = fake.now()
    frac = _fraction(sub, pdate)
    updated = stripe.Subscription.modify(
        sub.id,
        items=[{"id": item.id, "price": premium.id}],
        proration_behavior="always_invoice",
        proration_date=pdate,
    )
    assert updated["items"].data[0].id == item.id
    assert updated["items"].data[0].price.id == premium.id
    assert updated["items"].data[0].current_period_end == item.current_period_end
    inv = stripe.Invoice.retrieve(updated.latest_invoice)
    assert inv.billing_reason == "subscription_update"
    credit, debit = inv.lines.data
    assert credit.amount == -round(1000 * frac)
    assert debit.amount == round(3000 * frac)
    assert credit.description.startswith("Unused time on Basic after")
    assert debit.description.startswith("Remaining time on Premium after")
    assert credit.parent.subscription_item_details.proration is True
    credited = credit.parent.subscription_item_details.proration_details.credited_items
    assert credited.invoice == sub.latest_invoice
    assert inv.amount_paid == credit.amount + debit.amount
    assert inv.parent.subscription_details.subscription_proration_date == pdate
    prev = fake.events("customer.subscription.updated")[-1]["data"]["previous_attributes"]
    assert prev["items"]["data"][0]["price"]["id"] != premium.id


def test_proration_create_prorations_goes_on_next_invoice(fake: FakeStripe) -> None:
    sub, premium = _upgrade_setup(fake)
    item = sub["items"].data[0]
    before = len(stripe.Invoice.list(subscription=sub.id).data)
    stripe.Subscription.modify(sub.id, items=[{"id": item.id, "price": premium.id}])
    assert len(stripe.Invoice.list(subscription=sub.id).data) == before
    fake.advance(days=20)
    renewal = stripe.Invoice.list(subscription=sub.id).data[0]
    assert renewal.billing_reason == "subscription_cycle"
    kinds = [line.parent.subscription_item_details.proration for line in renewal.lines.data]
    assert kinds == [True, True, False]
    assert renewal.lines.data[2].amount == 3000
    assert renewal.total == sum(line.amount for line in renewal.lines.data)


def test_proration_none(fake: FakeStripe) -> None:
    sub, premium = _upgrade_setup(fake)
    item = sub["items"].data[0]
    stripe.Subscription.modify(
        sub.id, items=[{"id": item.id, "price": premium.id}], proration_behavior="none"
    )
    fake.advance(days=20)
    renewal = stripe.Invoice.list(subscription=sub.id).data[0]
    assert [line.amount for line in renewal.lines.data] == [3000]


def test_downgrade_credit_goes_to_customer_balance(fake: FakeStripe) -> None:
    basic = monthly_price(1000, "Basic")
    premium = monthly_price(3000, "Premium")
    cus = customer_with_card()
    sub = _sub(cus.id, premium.id)
    fake.advance(days=10)
    item = stripe.Subscription.retrieve(sub.id)["items"].data[0]
    updated = stripe.Subscription.modify(
        sub.id, items=[{"id": item.id, "price": basic.id}], proration_behavior="always_invoice"
    )
    inv = stripe.Invoice.retrieve(updated.latest_invoice)
    assert inv.total < 0 and inv.amount_due == 0 and inv.status == "paid"
    assert inv.ending_balance == inv.total
    assert stripe.Customer.retrieve(cus.id).balance == inv.total
    fake.advance(days=25)
    renewal = stripe.Invoice.list(subscription=sub.id).data[0]
    assert renewal.starting_balance == inv.total
    assert renewal.amount_due == max(0, 1000 + inv.total)


def test_quantity_change(fake: FakeStripe) -> None:
    seat = monthly_price(500, "Seat")
    cus = customer_with_card()
    sub = stripe.Subscription.create(customer=cus.id, items=[{"price": seat.id, "quantity": 3}])
    assert sub.latest_invoice and stripe.Invoice.retrieve(sub.latest_invoice).amount_paid == 1500
    item = sub["items"].data[0]
    fake.advance(days=10)
    updated = stripe.SubscriptionItem.modify(
        item.id, quantity=5, proration_behavior="always_invoice"
    )
    assert updated.quantity == 5
    sub = stripe.Subscription.retrieve(sub.id)
    inv = stripe.Invoice.retrieve(sub.latest_invoice)
    credit, debit = inv.lines.data
    assert credit.quantity == 3 and debit.quantity == 5
    assert credit.description.startswith("Unused time on 3 × Seat")
    assert -credit.amount < debit.amount


def test_interval_change_resets_period(fake: FakeStripe) -> None:
    monthly = monthly_price(1000)
    yearly = stripe.Price.create(
        product=monthly.product, unit_amount=10000, currency="usd", recurring={"interval": "year"}
    )
    cus = customer_with_card()
    sub = _sub(cus.id, monthly.id)
    fake.advance(days=10)
    item = sub["items"].data[0]
    updated = stripe.Subscription.modify(sub.id, items=[{"id": item.id, "price": yearly.id}])
    new_item = updated["items"].data[0]
    assert new_item.current_period_start == updated.billing_cycle_anchor
    assert new_item.current_period_end - new_item.current_period_start >= 365 * DAY
    inv = stripe.Invoice.retrieve(updated.latest_invoice)
    assert inv.billing_reason == "subscription_update"
    assert inv.lines.data[-1].amount == 10000 and inv.lines.data[0].amount < 0


def test_subscription_items_api(fake: FakeStripe) -> None:
    base = monthly_price(1000, "Base")
    addon = monthly_price(200, "Addon")
    cus = customer_with_card()
    sub = _sub(cus.id, base.id)
    added = stripe.SubscriptionItem.create(
        subscription=sub.id, price=addon.id, quantity=2, proration_behavior="none"
    )
    assert added.subscription == sub.id and added.quantity == 2
    listed = stripe.SubscriptionItem.list(subscription=sub.id)
    assert {i.id for i in listed.data} == {added.id, sub["items"].data[0].id}
    with pytest.raises(stripe.InvalidRequestError):
        stripe.SubscriptionItem.create(subscription=sub.id, price=addon.id)
    deleted = stripe.SubscriptionItem.delete(added.id, proration_behavior="none")
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        stripe.SubscriptionItem.retrieve(added.id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.SubscriptionItem.delete(sub["items"].data[0].id)
    assert "at least one" in str(info.value)
    assert len(stripe.Subscription.retrieve(sub.id)["items"].data) == 1


def test_subscription_validation(fake: FakeStripe) -> None:
    price = monthly_price()
    one_time = stripe.Price.create(product=price.product, unit_amount=500, currency="usd")
    eur = stripe.Price.create(
        product=price.product, unit_amount=500, currency="eur", recurring={"interval": "month"}
    )
    cus = customer_with_card()
    bad: list[tuple[dict[str, object], str | None]] = [
        ({"customer": cus.id}, "items"),
        ({"customer": "cus_missing", "items": [{"price": price.id}]}, "customer"),
        ({"customer": cus.id, "items": [{"price": one_time.id}]}, "items[0][price]"),
        ({"customer": cus.id, "items": [{"price": price.id}, {"price": eur.id}]}, "items"),
        (
            {"customer": cus.id, "items": [{"price": price.id, "quantity": "x"}]},
            "items[0][quantity]",
        ),
        ({"customer": cus.id, "items": [{"price": price.id}], "coupon": "X"}, "coupon"),
    ]
    for params, param in bad:
        with pytest.raises(stripe.InvalidRequestError) as info:
            stripe.Subscription.create(**params)
        assert info.value.param == param, params
    stripe.Price.modify(price.id, active=False)
    with pytest.raises(stripe.InvalidRequestError):
        _sub(cus.id, price.id)


def test_list_filters(fake: FakeStripe) -> None:
    a = monthly_price(100, "A")
    b = monthly_price(200, "B")
    c1 = customer_with_card(email="one@example.com")
    c2 = customer_with_card(email="two@example.com")
    s1 = _sub(c1.id, a.id)
    s2 = _sub(c2.id, b.id)
    s3 = _sub(c2.id, a.id, trial_period_days=3)
    assert [s.id for s in stripe.Subscription.list(customer=c2.id).data] == [s3.id, s2.id]
    assert [s.id for s in stripe.Subscription.list(price=a.id).data] == [s3.id, s1.id]
    assert [s.id for s in stripe.Subscription.list(status="trialing").data] == [s3.id]
    assert [s.id for s in stripe.Subscription.list(customer=c2.id, price=a.id).data] == [s3.id]
    found = stripe.Subscription.search(query="status:'trialing'")
    assert [s.id for s in found.data] == [s3.id]
    invoices = stripe.Invoice.list(customer=c1.id)
    assert [i.parent.subscription_details.subscription for i in invoices.data] == [s1.id]


def test_customer_delete_cancels_subscriptions(fake: FakeStripe) -> None:
    price = monthly_price()
    cus = customer_with_card()
    sub = _sub(cus.id, price.id)
    deleted = stripe.Customer.delete(cus.id)
    assert deleted.deleted is True
    assert stripe.Subscription.retrieve(sub.id).status == "canceled"
    again = stripe.Customer.retrieve(cus.id)
    assert again.deleted is True
    assert event_types(fake)[-2:] == ["customer.subscription.deleted", "customer.deleted"]


def test_invoice_paid_out_of_band_sends_invoice_paid_only(fake: FakeStripe) -> None:
    price = monthly_price(1000)
    cus = stripe.Customer.create(email="bank-transfer@example.com")
    sub = _sub(cus.id, price.id, payment_behavior="default_incomplete")
    before = len(fake.events())
    invoice = stripe.Invoice.pay(sub.latest_invoice, paid_out_of_band=True)
    assert invoice.status == "paid"
    sent = [event["type"] for event in fake.events()[before:]]
    assert "invoice.paid" in sent
    assert "invoice.payment_succeeded" not in sent
    assert stripe.Subscription.retrieve(sub.id).status == "active"
