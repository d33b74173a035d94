from __future__ import annotations

# Coupons, promotion codes and the discounts they give to subscriptions, invoices and Checkout.
from typing import Any

import pytest
import stripe

from fakestripe import FakeStripe

from .helpers import checkout, customer_with_card, monthly_price


def _subscribe(price: Any, **extra: Any) -> Any:
    cus = customer_with_card()
    return stripe.Subscription.create(customer=cus.id, items=[{"price": price.id}], **extra)


def _invoice(sub: Any) -> Any:
    return stripe.Invoice.retrieve(stripe.Subscription.retrieve(sub.id).latest_invoice)


def test_coupons(fake: FakeStripe) -> None:
    pct = stripe.Coupon.create(percent_off=25, duration="forever", name="Launch")
    assert pct.percent_off == 25.0 and pct.amount_off is None and pct.valid is True
    assert pct.times_redeemed == 0 and pct.duration_in_months is None
    fixed = stripe.Coupon.create(
        id="TENOFF", amount_off=1000, currency="USD", duration="repeating", duration_in_months=3
    )
    assert (fixed.id, fixed.currency, fixed.duration_in_months) == ("TENOFF", "usd", 3)
    assert stripe.Coupon.retrieve("TENOFF").amount_off == 1000
    assert {c.id for c in stripe.Coupon.list().data} == {pct.id, "TENOFF"}
    assert stripe.Coupon.modify("TENOFF", name="Ten off").name == "Ten off"
    problems = [
        ({"duration": "once"}, "percent_off"),
        ({"percent_off": 10, "amount_off": 5, "currency": "usd"}, "percent_off"),
        ({"amount_off": 500}, "currency"),
        ({"percent_off": 120}, "percent_off"),
        ({"percent_off": 10, "duration": "repeating"}, "duration_in_months"),
        ({"id": "TENOFF", "percent_off": 10}, "id"),
    ]
    for params, param in problems:
        with pytest.raises(stripe.InvalidRequestError) as info:
            stripe.Coupon.create(**params)
        assert info.value.param == param, params
    assert stripe.Coupon.delete("TENOFF").deleted is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Coupon.retrieve("TENOFF")
    assert info.value.code == "resource_missing"


def test_promotion_codes(fake: FakeStripe) -> None:
    coupon = stripe.Coupon.create(percent_off=10, duration="once")
    promo = stripe.PromotionCode.create(
        promotion={"type": "coupon", "coupon": coupon.id},
        code="SPRING10",
        max_redemptions=5,
        restrictions={"first_time_transaction": True},
    )
    assert promo.id.startswith("promo_") and promo.active is True
    assert promo.promotion.coupon == coupon.id and promo.promotion.type == "coupon"
    assert promo.restrictions.first_time_transaction is True
    generated = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id})
    assert len(generated.code) == 8
    assert [p.id for p in stripe.PromotionCode.list(code="spring10").data] == [promo.id]
    assert len(stripe.PromotionCode.list(coupon=coupon.id).data) == 2
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.PromotionCode.create(
            promotion={"type": "coupon", "coupon": coupon.id}, code="SPRING10"
        )
    assert info.value.code == "resource_already_exists"
    assert stripe.PromotionCode.modify(promo.id, active=False).active is False
    assert [p.id for p in stripe.PromotionCode.list(active=False).data] == [promo.id]
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": "nope"})
    assert info.value.code == "resource_missing" and info.value.param == "promotion[coupon]"


def test_percent_off_forever_discounts_every_invoice(fake: FakeStripe) -> None:
    price = monthly_price(1500)
    coupon = stripe.Coupon.create(percent_off=25, duration="forever")
    sub = _subscribe(price, discounts=[{"coupon": coupon.id}], expand=["discounts"])
    [discount] = sub.discounts
    assert discount.object == "discount" and discount.source.coupon == coupon.id
    assert discount.subscription == sub.id and discount.end is None
    assert discount.promotion_code is None
    invoice = _invoice(sub)
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (1500, 1125, 1125)
    assert invoice.discounts == [discount.id]
    assert [(d.amount, d.discount) for d in invoice.total_discount_amounts] == [(375, discount.id)]
    [line] = invoice.lines.data
    assert line.amount == 1500
    assert [(d.amount, d.discount) for d in line.discount_amounts] == [(375, discount.id)]
    assert stripe.Coupon.retrieve(coupon.id).times_redeemed == 1
    fake.advance(days=32)
    assert _invoice(sub).total == 1125
    preview = stripe.Invoice.create_preview(subscription=sub.id)
    assert preview.total == 1125 and preview.subtotal == 1500


def test_once_coupon_is_used_up_by_the_first_invoice(fake: FakeStripe) -> None:
    price = monthly_price(2000)
    coupon = stripe.Coupon.create(amount_off=500, currency="usd", duration="once")
    sub = _subscribe(price, discounts=[{"coupon": coupon.id}])
    assert _invoice(sub).total == 1500
    # It stays on the subscription for the period it paid for, then goes.
    assert len(stripe.Subscription.retrieve(sub.id).discounts) == 1
    assert stripe.Invoice.create_preview(subscription=sub.id).total == 2000
    fake.advance(days=32)
    assert _invoice(sub).total == 2000
    assert stripe.Subscription.retrieve(sub.id).discounts == []
    created = fake.events("customer.discount.created")
    deleted = fake.events("customer.discount.deleted")
    assert len(created) == len(deleted) == 1
    assert deleted[0]["data"]["object"]["id"] == created[0]["data"]["object"]["id"]
    assert created[0]["data"]["object"]["source"]["coupon"] == coupon.id


def test_repeating_coupon_ends_after_its_months(fake: FakeStripe) -> None:
    price = monthly_price(1000)
    coupon = stripe.Coupon.create(percent_off=50, duration="repeating", duration_in_months=2)
    sub = _subscribe(price, discounts=[{"coupon": coupon.id}])
    totals = [_invoice(sub).total]
    for _ in range(2):
        fake.advance(days=31)
        totals.append(_invoice(sub).total)
    assert totals == [500, 500, 1000]


def test_amount_off_is_shared_over_the_lines(fake: FakeStripe) -> None:
    seat = monthly_price(700, "Seat")
    support = monthly_price(300, "Support")
    coupon = stripe.Coupon.create(amount_off=250, currency="usd", duration="forever")
    cus = customer_with_card()
    sub = stripe.Subscription.create(
        customer=cus.id,
        items=[{"price": seat.id}, {"price": support.id}],
        discounts=[{"coupon": coupon.id}],
    )
    invoice = _invoice(sub)
    shares = [line.discount_amounts[0].amount for line in invoice.lines.data]
    assert shares == [175, 75] and invoice.total == 750


def test_discounts_on_update_and_their_errors(fake: FakeStripe) -> None:
    price = monthly_price(1000)
    sub = _subscribe(price)
    coupon = stripe.Coupon.create(percent_off=20, duration="forever")
    promo = stripe.PromotionCode.create(
        promotion={"type": "coupon", "coupon": coupon.id}, code="TWENTY"
    )
    updated = stripe.Subscription.modify(sub.id, discounts=[{"promotion_code": promo.id}])
    [discount_id] = updated.discounts
    prev = fake.events("customer.subscription.updated")[-1]["data"]["previous_attributes"]
    assert prev["discounts"] == []
    fake.advance(days=32)
    renewal = _invoice(sub)
    assert renewal.total == 800 and renewal.discounts == [discount_id]
    assert stripe.PromotionCode.retrieve(promo.id).times_redeemed == 1
    assert stripe.Subscription.modify(sub.id, discounts="").discounts == []
    assert fake.events("customer.discount.deleted")[-1]["data"]["object"]["id"] == discount_id
    errors = [
        ([{"coupon": "nope"}], "resource_missing", "discounts[0][coupon]"),
        ([{"promotion_code": "promo_nope"}], "resource_missing", "discounts[0][promotion_code]"),
    ]
    for discounts, code, param in errors:
        with pytest.raises(stripe.InvalidRequestError) as info:
            stripe.Subscription.modify(sub.id, discounts=discounts)
        assert (info.value.code, info.value.param) == (code, param)
    stripe.PromotionCode.modify(promo.id, active=False)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Subscription.modify(sub.id, discounts=[{"promotion_code": promo.id}])
    assert info.value.param == "discounts[0][promotion_code]"
    assert "cannot be redeemed" in info.value.user_message
    limited = stripe.Coupon.create(percent_off=5, duration="once", max_redemptions=1)
    _subscribe(price, discounts=[{"coupon": limited.id}])
    with pytest.raises(stripe.InvalidRequestError) as info:
        _subscribe(price, discounts=[{"coupon": limited.id}])
    assert info.value.code == "coupon_expired"
    assert stripe.Coupon.retrieve(limited.id).valid is False


def test_checkout_with_a_coupon(fake: FakeStripe) -> None:
    price = monthly_price(1500)
    coupon = stripe.Coupon.create(percent_off=20, duration="forever", name="Friends")
    session = checkout(price.id, customer_email="c@example.com", discounts=[{"coupon": coupon.id}])
    assert session.amount_subtotal == 1500 and session.amount_total == 1200
    assert session.total_details.amount_discount == 300
    assert session.discounts[0].coupon == coupon.id
    assert session.discounts[0].promotion_code is None
    [item] = stripe.checkout.Session.list_line_items(session.id).data
    assert (item.amount_discount, item.amount_total) == (300, 1200)
    page = fake.page(session.url)
    assert "Friends" in page.text and "$12.00" in page.text
    assert fake.submit_checkout(session.id).status == 303
    done = stripe.checkout.Session.retrieve(session.id)
    invoice = stripe.Invoice.retrieve(done.invoice)
    assert invoice.amount_paid == 1200
    assert len(stripe.Subscription.retrieve(done.subscription).discounts) == 1
    with pytest.raises(stripe.InvalidRequestError) as info:
        checkout(price.id, allow_promotion_codes=True, discounts=[{"coupon": coupon.id}])
    assert "allow_promotion_codes, discounts" in info.value.user_message


def test_checkout_promotion_code_box(fake: FakeStripe) -> None:
    price = monthly_price(2000)
    coupon = stripe.Coupon.create(amount_off=500, currency="usd", duration="once")
    promo = stripe.PromotionCode.create(
        promotion={"type": "coupon", "coupon": coupon.id}, code="WELCOME"
    )
    stripe.PromotionCode.create(
        promotion={"type": "coupon", "coupon": coupon.id}, code="OLD", active=False
    )
    session = checkout(price.id, customer_email="p@example.com", allow_promotion_codes=True)
    page = fake.page(session.url)
    assert "name=promotion_code" in page.text
    apply = f"/c/pay/{session.id}/promotion_code"
    for bad in ("NOPE", "OLD", ""):
        refused = fake.page(apply, {"promotion_code": bad})
        assert refused.status == 422 and "This code is invalid." in refused.text
    assert stripe.checkout.Session.retrieve(session.id).discounts == []
    assert fake.page(apply, {"promotion_code": "welcome"}).status == 303
    shown = fake.page(session.url)
    assert "WELCOME applied" in shown.text and "name=promotion_code" not in shown.text
    current = stripe.checkout.Session.retrieve(session.id)
    assert current.amount_total == 1500 and current.discounts[0].promotion_code == promo.id
    assert fake.submit_checkout(session.id).status == 303
    done = stripe.checkout.Session.retrieve(session.id)
    assert stripe.Invoice.retrieve(done.invoice).amount_paid == 1500
    sub = stripe.Subscription.retrieve(done.subscription, expand=["discounts"])
    assert sub.discounts[0].promotion_code == promo.id
    assert stripe.PromotionCode.retrieve(promo.id).times_redeemed == 1


def test_a_code_applied_during_a_trial_shows_what_it_takes_off_later(fake: FakeStripe) -> None:
    price = monthly_price(2900)
    coupon = stripe.Coupon.create(percent_off=20, duration="repeating", duration_in_months=3)
    stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="TRIAL20")
    session = checkout(
        price.id,
        customer_email="t@example.com",
        allow_promotion_codes=True,
        subscription_data={"trial_period_days": 14},
    )
    applied = fake.page(f"/c/pay/{session.id}/promotion_code", {"promotion_code": "TRIAL20"})
    assert applied.status == 303
    page = fake.page(session.url).text
    assert "TRIAL20 applied" in page and "20% off" in page and "name=promotion_code" not in page
    assert "14 days free" in page and "$0.00" in page  # nothing due today
    assert stripe.checkout.Session.retrieve(session.id).amount_total == 0


def test_promotion_code_typed_with_the_payment(fake: FakeStripe) -> None:
    price = monthly_price(1000)
    coupon = stripe.Coupon.create(percent_off=100, duration="once")
    stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="FREE")
    session = checkout(price.id, customer_email="f@example.com", allow_promotion_codes=True)
    bad = fake.submit_checkout(session.id, promotion_code="WRONG")
    assert bad.status == 422 and "This code is invalid." in bad.text
    assert stripe.Subscription.list().data == []
    assert fake.submit_checkout(session.id, promotion_code="FREE").status == 303
    done = stripe.checkout.Session.retrieve(session.id)
    invoice = stripe.Invoice.retrieve(done.invoice)
    assert (invoice.subtotal, invoice.total, invoice.status) == (1000, 0, "paid")
    assert done.payment_status == "no_payment_required"


def test_a_free_first_invoice_needs_no_card(fake: FakeStripe) -> None:
    price = monthly_price(1000)
    coupon = stripe.Coupon.create(percent_off=100, duration="once")
    cus = stripe.Customer.create(email="nocard@example.com")
    sub = stripe.Subscription.create(
        customer=cus.id,
        items=[{"price": price.id}],
        discounts=[{"coupon": coupon.id}],
        payment_behavior="error_if_incomplete",
    )
    assert sub.status == "active"
    assert stripe.Invoice.retrieve(sub.latest_invoice).amount_due == 0


def test_error_if_incomplete_counts_the_discount(fake: FakeStripe) -> None:
    monthly = monthly_price(1000)
    yearly = stripe.Price.create(
        product=monthly.product, unit_amount=9000, currency="usd", recurring={"interval": "year"}
    )
    coupon = stripe.Coupon.create(percent_off=100, duration="forever")
    sub = _subscribe(monthly, discounts=[{"coupon": coupon.id}])
    stripe.PaymentMethod.attach("pm_card_chargeCustomerFail", customer=sub.customer)
    stripe.Customer.modify(
        sub.customer, invoice_settings={"default_payment_method": "pm_card_chargeCustomerFail"}
    )
    item = sub["items"].data[0]
    # An interval change bills a new period now; free with the discount, so no card is needed.
    updated = stripe.Subscription.modify(
        sub.id,
        items=[{"id": item.id, "price": yearly.id}],
        payment_behavior="error_if_incomplete",
        proration_behavior="none",
    )
    assert stripe.Invoice.retrieve(updated.latest_invoice).total == 0
    with pytest.raises(stripe.CardError):
        stripe.Subscription.modify(
            sub.id,
            items=[{"id": item.id, "price": monthly.id}],
            discounts="",
            payment_behavior="error_if_incomplete",
            proration_behavior="none",
        )


# ---------------------------------------------------------------- discounts on prorations


def _pro_with_welcome20(fake: FakeStripe) -> tuple[Any, Any, Any, str]:
    """Pro ($29/month) bought at Checkout with promotion code WELCOME20 (20% off, forever):
    (subscription, its item, the Enterprise price ($99/month), the discount id)."""
    pro = monthly_price(2900, "Pro")
    enterprise = monthly_price(9900, "Enterprise")
    coupon = stripe.Coupon.create(percent_off=20, duration="forever")
    stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="WELCOME20")
    session = checkout(pro.id, customer_email="w@example.com", allow_promotion_codes=True)
    assert fake.submit_checkout(session.id, promotion_code="WELCOME20").status == 303
    done = stripe.checkout.Session.retrieve(session.id)
    assert stripe.Invoice.retrieve(done.invoice).amount_paid == 2320
    sub = stripe.Subscription.retrieve(done.subscription)
    [discount_id] = sub.discounts
    return sub, sub["items"].data[0], enterprise, discount_id


def _cuts(invoice: Any) -> list[tuple[int, list[tuple[int, str]]]]:
    return [
        (line.amount, [(d.amount, d.discount) for d in line.discount_amounts])
        for line in invoice.lines.data
    ]


def test_prorations_are_discounted_and_the_preview_is_what_is_charged(fake: FakeStripe) -> None:
    sub, item, enterprise, did = _pro_with_welcome20(fake)
    change = [{"id": item.id, "price": enterprise.id}]
    # At the very start of the period the prorations are whole months: exact cents.
    pdate = item.current_period_start
    details = {"items": change, "proration_date": pdate, "proration_behavior": "always_invoice"}
    preview = stripe.Invoice.create_preview(subscription=sub.id, subscription_details=details)
    assert _cuts(preview) == [(-2900, [(-580, did)]), (9900, [(1980, did)])]
    assert all(line.discountable for line in preview.lines.data)
    assert (preview.subtotal, preview.total, preview.amount_due) == (7000, 5600, 5600)
    assert [(d.amount, d.discount) for d in preview.total_discount_amounts] == [(1400, did)]
    assert preview.discounts == [did]
    updated = stripe.Subscription.modify(
        sub.id, items=change, proration_behavior="always_invoice", proration_date=pdate
    )
    invoice = stripe.Invoice.retrieve(updated.latest_invoice)
    assert _cuts(invoice) == _cuts(preview)
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (7000, 5600, 5600)
    assert [(d.amount, d.discount) for d in invoice.total_discount_amounts] == [(1400, did)]
    items = stripe.InvoiceItem.list(customer=sub.customer).data
    assert len(items) == 2 and all(ii.discountable and ii.invoice == invoice.id for ii in items)
    # The next invoice is the new price, discounted; and the renewal bills just that.
    renewal = stripe.Invoice.create_preview(subscription=sub.id)
    assert _cuts(renewal) == [(9900, [(1980, did)])]
    assert (renewal.subtotal, renewal.total) == (9900, 7920)
    fake.advance(days=32)
    assert (_invoice(sub).subtotal, _invoice(sub).total, _invoice(sub).amount_paid) == (
        9900,
        7920,
        7920,
    )


def test_discounted_prorations_mid_period_preview_equals_charged(fake: FakeStripe) -> None:
    sub, item, enterprise, did = _pro_with_welcome20(fake)
    fake.advance(days=11, hours=5)
    pdate = fake.now()
    frac = (item.current_period_end - pdate) / (item.current_period_end - item.current_period_start)
    credit, charge = -round(2900 * frac), round(9900 * frac)
    # 20% of each line, rounded half away from zero, as the fake rounds percent_off shares.
    credit_off = -int(-credit * 0.2 + 0.5)
    charge_off = int(charge * 0.2 + 0.5)
    change = [{"id": item.id, "price": enterprise.id}]
    details = {"items": change, "proration_date": pdate, "proration_behavior": "always_invoice"}
    preview = stripe.Invoice.create_preview(subscription=sub.id, subscription_details=details)
    assert _cuts(preview) == [(credit, [(credit_off, did)]), (charge, [(charge_off, did)])]
    expected = credit + charge - (credit_off + charge_off)
    assert preview.total == preview.amount_due == expected
    updated = stripe.Subscription.modify(
        sub.id, items=change, proration_behavior="always_invoice", proration_date=pdate
    )
    invoice = stripe.Invoice.retrieve(updated.latest_invoice)
    assert _cuts(invoice) == _cuts(preview)
    assert invoice.amount_paid == preview.amount_due == expected


def test_pending_prorations_are_discounted_on_the_next_invoice(fake: FakeStripe) -> None:
    sub, item, enterprise, did = _pro_with_welcome20(fake)
    change = [{"id": item.id, "price": enterprise.id}]
    pdate = item.current_period_start
    details = {"items": change, "proration_date": pdate}
    preview = stripe.Invoice.create_preview(subscription=sub.id, subscription_details=details)
    expected = [(-2900, [(-580, did)]), (9900, [(1980, did)]), (9900, [(1980, did)])]
    assert _cuts(preview) == expected
    assert (preview.subtotal, preview.total) == (16900, 13520)
    updated = stripe.Subscription.modify(
        sub.id, items=change, proration_behavior="create_prorations", proration_date=pdate
    )
    assert updated.latest_invoice == sub.latest_invoice  # nothing billed yet
    pending = stripe.InvoiceItem.list(customer=sub.customer).data
    assert len(pending) == 2 and all(ii.invoice is None and ii.discountable for ii in pending)
    assert _cuts(stripe.Invoice.create_preview(subscription=sub.id)) == expected
    fake.advance(days=32)
    renewal = _invoice(sub)
    assert _cuts(renewal) == expected
    assert (renewal.subtotal, renewal.total, renewal.amount_paid) == (16900, 13520, 13520)
    assert [(d.amount, d.discount) for d in renewal.total_discount_amounts] == [(3380, did)]


def test_a_discounted_downgrade_credits_what_was_paid(fake: FakeStripe) -> None:
    sub, item, enterprise, did = _pro_with_welcome20(fake)
    pdate = item.current_period_start
    stripe.Subscription.modify(
        sub.id,
        items=[{"id": item.id, "price": enterprise.id}],
        proration_behavior="always_invoice",
        proration_date=pdate,
    )
    pro = item.price.id
    back = stripe.Subscription.modify(
        sub.id,
        items=[{"id": item.id, "price": pro}],
        proration_behavior="always_invoice",
        proration_date=pdate,
    )
    invoice = stripe.Invoice.retrieve(back.latest_invoice)
    assert _cuts(invoice) == [(-9900, [(-1980, did)]), (2900, [(580, did)])]
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (-7000, -5600, 0)
    # Paid $56.00 for the upgrade, so $56.00 comes back as credit.
    assert stripe.Customer.retrieve(sub.customer).balance == -5600


def test_amount_off_comes_off_a_proration_invoice_once(fake: FakeStripe) -> None:
    pro = monthly_price(2900, "Pro")
    enterprise = monthly_price(9900, "Enterprise")
    coupon = stripe.Coupon.create(amount_off=1000, currency="usd", duration="forever")
    sub = _subscribe(pro, discounts=[{"coupon": coupon.id}])
    [did] = sub.discounts
    item = sub["items"].data[0]
    pdate = item.current_period_start
    up = [{"id": item.id, "price": enterprise.id}]
    details = {"items": up, "proration_date": pdate, "proration_behavior": "always_invoice"}
    preview = stripe.Invoice.create_preview(subscription=sub.id, subscription_details=details)
    # Once for the invoice, taken off the line that costs something, not off the credit.
    assert _cuts(preview) == [(-2900, []), (9900, [(1000, did)])]
    assert preview.total == 6000
    updated = stripe.Subscription.modify(
        sub.id, items=up, proration_behavior="always_invoice", proration_date=pdate
    )
    invoice = stripe.Invoice.retrieve(updated.latest_invoice)
    assert _cuts(invoice) == _cuts(preview) and invoice.amount_paid == 6000
    # A downgrade's invoice comes to less than nothing: nothing to take $10 off.
    down = stripe.Subscription.modify(
        sub.id,
        items=[{"id": item.id, "price": pro.id}],
        proration_behavior="always_invoice",
        proration_date=pdate,
    )
    credit = stripe.Invoice.retrieve(down.latest_invoice)
    assert credit.total == credit.subtotal == -7000
    assert [d.amount for d in credit.total_discount_amounts] == [0]
