from __future__ import annotations

import stripe

from fakestripe import FakeStripe

from .helpers import checkout, event_types, monthly_price


def _subscribed(fake: FakeStripe) -> tuple[str, str, stripe.Price, stripe.Price]:
    basic = monthly_price(1000, "Basic")
    premium = monthly_price(3000, "Premium")
    session = checkout(basic.id, customer_email="portal@example.com")
    assert fake.submit_checkout(session.id).status == 303
    done = stripe.checkout.Session.retrieve(session.id)
    return str(done.customer), str(done.subscription), basic, premium


def test_portal_session_and_page(fake: FakeStripe) -> None:
    customer, sub_id, basic, premium = _subscribed(fake)
    portal = stripe.billing_portal.Session.create(
        customer=customer, return_url="https://app.example/account"
    )
    assert portal.url == f"{fake.url}/p/session/{portal.id}"
    assert portal.configuration.startswith("bpc_")
    page = fake.page(portal.url)
    assert page.status == 200
    assert "Basic" in page.text and "Premium" in page.text
    assert 'href="https://app.example/account"' in page.text
    assert "Visa •••• 4242" in page.text
    assert f"/p/session/{portal.id}/subscriptions/{sub_id}/cancel" in page.text


def test_portal_cancel_and_renew(fake: FakeStripe) -> None:
    customer, sub_id, _, _ = _subscribed(fake)
    portal = stripe.billing_portal.Session.create(customer=customer)
    base = f"/p/session/{portal.id}/subscriptions/{sub_id}"
    result = fake.page(f"{base}/cancel", {})
    assert result.status == 303 and result.location == f"/p/session/{portal.id}"
    sub = stripe.Subscription.retrieve(sub_id)
    # Flexible billing mode (the default): the portal sets cancel_at to the period end and
    # leaves cancel_at_period_end false.
    assert sub.cancel_at == sub["items"].data[0].current_period_end
    assert sub.cancel_at_period_end is False and sub.status == "active"
    assert event_types(fake)[-1] == "customer.subscription.updated"
    assert "Renew plan" in fake.page(portal.url).text
    assert fake.page(f"{base}/renew", {}).status == 303
    renewed = stripe.Subscription.retrieve(sub_id)
    assert renewed.cancel_at is None and renewed.cancel_at_period_end is False
    fake.page(f"{base}/cancel", {})
    fake.advance(days=32)
    assert stripe.Subscription.retrieve(sub_id).status == "canceled"
    assert "customer.subscription.deleted" in event_types(fake)


def test_portal_change_plan(fake: FakeStripe) -> None:
    customer, sub_id, _, premium = _subscribed(fake)
    config = stripe.billing_portal.Configuration.create(
        features={
            "subscription_update": {
                "enabled": True,
                "default_allowed_updates": ["price", "quantity"],
                "proration_behavior": "create_prorations",
            }
        }
    )
    portal = stripe.billing_portal.Session.create(customer=customer, configuration=config.id)
    fake.advance(days=5)
    result = fake.page(
        f"/p/session/{portal.id}/subscriptions/{sub_id}/update",
        {"price": premium.id, "quantity": "2"},
    )
    assert result.status == 303
    sub = stripe.Subscription.retrieve(sub_id)
    assert sub["items"].data[0].price.id == premium.id
    assert sub["items"].data[0].quantity == 2
    updated = fake.events("customer.subscription.updated")[-1]
    assert updated["data"]["object"]["items"]["data"][0]["price"]["id"] == premium.id
    assert updated["request"] == {"id": None, "idempotency_key": None}
    # prorations land on the renewal invoice (create_prorations)
    fake.advance(days=30)
    renewal = stripe.Invoice.list(subscription=sub_id).data[0]
    assert renewal.lines.data[-1].amount == 6000
    assert any(line.parent.subscription_item_details.proration for line in renewal.lines.data)
    bad = fake.page(
        f"/p/session/{portal.id}/subscriptions/{sub_id}/update", {"price": "price_missing"}
    )
    assert bad.status == 400 and "No such price" in bad.text


def test_portal_update_card_recovers_past_due(fake: FakeStripe) -> None:
    customer, sub_id, _, _ = _subscribed(fake)
    portal = stripe.billing_portal.Session.create(customer=customer)
    declined = fake.page(
        f"/p/session/{portal.id}/payment_method",
        {"card_number": "4000000000000002", "card_expiry": "12/34", "card_cvc": "123"},
    )
    assert declined.status == 422 and "Your card has been declined." in declined.text
    failing = fake.page(
        f"/p/session/{portal.id}/payment_method",
        {"card_number": "4000000000000341", "card_expiry": "12/34", "card_cvc": "123"},
    )
    assert failing.status == 303
    fake.advance(days=32)
    sub = stripe.Subscription.retrieve(sub_id)
    assert sub.status == "past_due"
    assert "invoice.payment_failed" in event_types(fake)
    fixed = fake.page(
        f"/p/session/{portal.id}/payment_method",
        {"card_number": "5555 5555 5555 4444", "card_expiry": "10/31", "card_cvc": "123"},
    )
    assert fixed.status == 303
    sub = stripe.Subscription.retrieve(sub_id, expand=["default_payment_method"])
    assert sub.status == "active"
    assert sub.default_payment_method.card.brand == "mastercard"
    cus = stripe.Customer.retrieve(customer, expand=["invoice_settings.default_payment_method"])
    assert cus.invoice_settings.default_payment_method.card.last4 == "4444"
    assert stripe.Invoice.retrieve(sub.latest_invoice).status == "paid"


def test_portal_flow_data_and_errors(fake: FakeStripe) -> None:
    customer, sub_id, _, _ = _subscribed(fake)
    portal = stripe.billing_portal.Session.create(
        customer=customer,
        flow_data={"type": "subscription_cancel", "subscription_cancel": {"subscription": sub_id}},
    )
    assert portal.flow.type == "subscription_cancel"
    assert portal.flow.subscription_cancel.subscription == sub_id
    try:
        stripe.billing_portal.Session.create(customer="cus_missing")
    except stripe.InvalidRequestError as err:
        assert err.param == "customer" and err.http_status == 400
    else:
        raise AssertionError("expected an error")
    assert fake.page("/p/session/bps_missing").status == 404
