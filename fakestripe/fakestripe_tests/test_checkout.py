from __future__ import annotations

import stripe

from fakestripe import FakeStripe

from .helpers import checkout, event_types, monthly_price


def test_checkout_success_creates_active_subscription(fake: FakeStripe) -> None:
    price = monthly_price(1500)
    session = checkout(
        price.id,
        customer_email="jenny@example.com",
        client_reference_id="u42",
        metadata={"plan": "pro"},
        subscription_data={"metadata": {"team": "7"}},
    )
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.url == f"{fake.url}/c/pay/{session.id}"
    assert session.expires_at - session.created == 86400
    assert session.amount_total == 1500

    page = fake.page(session.url)
    assert page.status == 200
    assert "$15.00" in page.text and "4242 4242 4242 4242" in page.text
    assert 'href="https://app.example/billing/cancel"' in page.text

    result = fake.submit_checkout(session.id)
    assert result.status == 303
    assert result.location == f"https://app.example/billing/success?session_id={session.id}"

    done = stripe.checkout.Session.retrieve(session.id, expand=["subscription", "line_items"])
    assert done.status == "complete"
    assert done.payment_status == "paid"
    assert done.client_reference_id == "u42"
    assert done.metadata.to_dict() == {"plan": "pro"}
    assert done.customer_details.email == "jenny@example.com"
    assert done.line_items.data[0].price.id == price.id
    sub = done.subscription
    assert sub.status == "active"
    assert sub.metadata.to_dict() == {"team": "7"}
    assert "current_period_end" not in sub
    item = sub["items"].data[0]
    assert item.current_period_end > item.current_period_start
    assert sub.default_payment_method is not None

    invoice = stripe.Invoice.retrieve(done.invoice)
    assert invoice.status == "paid"
    assert invoice.billing_reason == "subscription_create"
    assert invoice.amount_paid == 1500
    assert invoice.parent.subscription_details.subscription == sub.id
    assert "subscription" not in invoice
    assert invoice.customer_email == "jenny@example.com"
    line = invoice.lines.data[0]
    assert line.parent.subscription_item_details.subscription_item == item.id
    assert line.pricing.price_details.price == price.id
    assert line.period.end == item.current_period_end
    assert invoice.hosted_invoice_url.startswith(fake.url)

    types = event_types(fake)
    flow = types[types.index("customer.created") :]
    assert flow == [
        "customer.created",
        "payment_method.attached",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.updated",
        "checkout.session.completed",
    ]
    created = fake.events("customer.subscription.created")[0]["data"]["object"]
    assert created["status"] == "incomplete"
    updated = fake.events("customer.subscription.updated")[0]["data"]
    assert updated["previous_attributes"]["status"] == "incomplete"
    completed = fake.events("checkout.session.completed")[0]
    assert completed["api_version"] == "2026-05-27.dahlia"
    assert completed["data"]["object"]["subscription"] == sub.id

    # A completed session page no longer takes payments.
    again = fake.page(session.url)
    assert again.status == 200 and "Thanks for your order" in again.text


def test_checkout_with_existing_customer(fake: FakeStripe) -> None:
    price = monthly_price(900)
    customer = stripe.Customer.create(email="known@example.com")
    session = checkout(price.id, customer=customer.id)
    assert fake.submit_checkout(session.id).status == 303
    done = stripe.checkout.Session.retrieve(session.id)
    assert done.customer == customer.id
    assert event_types(fake).count("customer.created") == 1
    subs = stripe.Subscription.list(customer=customer.id)
    assert [s.status for s in subs.data] == ["active"]


def test_declined_card_rerenders_form_and_creates_nothing(fake: FakeStripe) -> None:
    price = monthly_price()
    session = checkout(price.id, customer_email="d@example.com")
    result = fake.submit_checkout(session.id, "4000 0000 0000 0002")
    assert result.status == 422
    assert "Your card has been declined." in result.text
    assert stripe.checkout.Session.retrieve(session.id).status == "open"
    assert stripe.Subscription.list(status="all").data == []
    assert stripe.Customer.list().data == []

    insufficient = fake.submit_checkout(session.id, "4000000000009995")
    assert insufficient.status == 422
    assert "insufficient funds" in insufficient.text

    bad_number = fake.submit_checkout(session.id, "4242 4242 4242 4241")
    assert bad_number.status == 422 and "Your card number is incorrect." in bad_number.text
    expired = fake.submit_checkout(session.id, expiry="01 / 20")
    assert expired.status == 422 and "expiration year is in the past" in expired.text

    # and then a good card still works
    assert fake.submit_checkout(session.id).status == 303


def test_three_d_secure_challenge(fake: FakeStripe) -> None:
    price = monthly_price()
    session = checkout(price.id, customer_email="sca@example.com")
    failed = fake.submit_checkout(session.id, "4000 0025 0000 3155", three_d_secure="fail")
    assert failed.status == 422
    assert "unable to authenticate" in failed.text
    assert stripe.Subscription.list(status="all").data == []

    page = fake.page(
        session.url,
        {
            "email": "sca@example.com",
            "card_number": "4000002500003155",
            "card_expiry": "12/30",
            "card_cvc": "123",
        },
    )
    assert page.status == 200 and "3D Secure" in page.text
    done = fake.page(f"/c/pay/{session.id}/3ds", {"decision": "complete"})
    assert done.status == 303
    sub = stripe.Subscription.retrieve(stripe.checkout.Session.retrieve(session.id).subscription)
    assert sub.status == "active"
    # The card was set up on-session, so renewals succeed off-session.
    fake.advance(days=32)
    assert stripe.Subscription.retrieve(sub.id).status == "active"


def test_checkout_trial_then_clock(fake: FakeStripe) -> None:
    price = monthly_price(2000)
    session = checkout(
        price.id, customer_email="t@example.com", subscription_data={"trial_period_days": 14}
    )
    assert session.amount_total == 0
    assert "14 days free" in fake.page(session.url).text
    assert fake.submit_checkout(session.id).status == 303
    done = stripe.checkout.Session.retrieve(session.id)
    assert done.payment_status == "no_payment_required"
    sub = stripe.Subscription.retrieve(done.subscription)
    assert sub.status == "trialing"
    assert sub.trial_end == sub["items"].data[0].current_period_end
    first = stripe.Invoice.retrieve(sub.latest_invoice)
    assert first.amount_due == 0 and first.status == "paid"

    fake.advance(days=11, seconds=1)
    assert "customer.subscription.trial_will_end" in event_types(fake)
    fake.advance(days=3)
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub.status == "active"
    invoice = stripe.Invoice.retrieve(sub.latest_invoice)
    assert invoice.billing_reason == "subscription_cycle"
    assert invoice.status == "paid" and invoice.amount_paid == 2000
    assert sub["items"].data[0].current_period_start == sub.trial_end


def test_checkout_trial_without_card(fake: FakeStripe) -> None:
    price = monthly_price(2000)
    session = checkout(
        price.id,
        customer_email="nocard@example.com",
        payment_method_collection="if_required",
        subscription_data={
            "trial_period_days": 7,
            "trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}},
        },
    )
    page = fake.page(session.url)
    assert "No payment method required" in page.text
    assert fake.submit_checkout(session.id, card=None).status == 303
    sub_id = stripe.checkout.Session.retrieve(session.id).subscription
    assert stripe.Subscription.retrieve(sub_id).status == "trialing"
    fake.advance(days=8)
    assert stripe.Subscription.retrieve(sub_id).status == "canceled"
    assert "customer.subscription.deleted" in event_types(fake)


def test_checkout_expires_and_can_be_expired(fake: FakeStripe) -> None:
    price = monthly_price()
    first = checkout(price.id)
    second = checkout(price.id)
    expired = stripe.checkout.Session.expire(first.id)
    assert expired.status == "expired" and expired.url is None
    fake.advance(hours=25)
    assert stripe.checkout.Session.retrieve(second.id).status == "expired"
    assert event_types(fake).count("checkout.session.expired") == 2
    assert "expired" in fake.page(f"/c/pay/{second.id}").text


def test_checkout_validation_errors(fake: FakeStripe) -> None:
    price = monthly_price()
    customer = stripe.Customer.create()
    cases = [
        ({"mode": "subscription"}, "line_items"),
        ({"mode": "subscription", "line_items": [{"price": price.id}]}, "line_items[0][quantity]"),
        (
            {"mode": "subscription", "line_items": [{"price": "price_nope", "quantity": 1}]},
            "line_items[0][price]",
        ),
        (
            {
                "mode": "subscription",
                "line_items": [{"price": price.id, "quantity": 1}],
                "customer": customer.id,
                "customer_email": "x@example.com",
            },
            "customer_email",
        ),
    ]
    for params, param in cases:
        try:
            stripe.checkout.Session.create(**params)
        except stripe.InvalidRequestError as err:
            assert err.param == param, (params, err.param)
        else:
            raise AssertionError(f"expected error for {params}")
    assert fake.page("/c/pay/cs_test_missing").status == 404


def test_checkout_list_filters(fake: FakeStripe) -> None:
    price = monthly_price()
    customer = stripe.Customer.create(email="l@example.com")
    mine = checkout(price.id, customer=customer.id)
    checkout(price.id)
    listed = stripe.checkout.Session.list(customer=customer.id)
    assert [s.id for s in listed.data] == [mine.id]
    assert len(stripe.checkout.Session.list(status="open").data) == 2
    items = stripe.checkout.Session.list_line_items(mine.id)
    assert items.data[0].quantity == 1 and items.data[0].object == "item"
