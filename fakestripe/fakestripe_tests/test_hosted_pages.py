from __future__ import annotations

# The account's name on hosted pages, portal configurations (quantity box, plan choices,
# cancellation mode), the portal's cancel confirmation, the hosted invoice page and its PDF.
from typing import Any

import pytest
import stripe

from fakestripe import FakeStripe

from .helpers import checkout, monthly_price


def _subscribed(fake: FakeStripe, price: Any, quantity: int = 1) -> tuple[str, str]:
    session = checkout(
        price.id,
        customer_email="pages@example.com",
        line_items=[{"price": price.id, "quantity": quantity}],
    )
    assert fake.submit_checkout(session.id).status == 303
    done = stripe.checkout.Session.retrieve(session.id)
    return str(done.customer), str(done.subscription)


def _seat_and_flat() -> tuple[Any, Any]:
    team = stripe.Product.create(name="Team", unit_label="seat")
    seat = stripe.Price.create(
        product=team.id, unit_amount=800, currency="usd", recurring={"interval": "month"}
    )
    flat = monthly_price(2000, "Business")
    return seat, flat


def _quantity_of(sub_id: str) -> int:
    return int(stripe.Subscription.retrieve(sub_id)["items"].data[0].quantity)


def test_default_account_name_is_neutral(fake: FakeStripe) -> None:
    account = stripe.Account.retrieve()
    assert account.business_profile.name == "Test account"
    assert account.settings.dashboard.display_name == "Test account"
    assert account.settings.payments.statement_descriptor == "TEST ACCOUNT"
    price = monthly_price()
    session = checkout(price.id)
    page = fake.page(session.url)
    assert "Test account" in page.text and "keel" not in page.text.lower()


def test_account_name_is_shown_on_every_hosted_page() -> None:
    with FakeStripe(account_name="Acme Analytics") as fake, fake.stripe_module(stripe):
        assert stripe.Account.retrieve().settings.payments.statement_descriptor == (
            "ACME ANALYTICS"
        )
        price = monthly_price()
        session = checkout(price.id, customer_email="acme@example.com")
        assert "Acme Analytics — Checkout" in fake.page(session.url).text
        assert fake.submit_checkout(session.id).status == 303
        done = stripe.checkout.Session.retrieve(session.id, expand=["invoice"])
        sub = stripe.Subscription.retrieve(done.subscription)
        invoice = stripe.Invoice.retrieve(sub.latest_invoice)
        assert invoice.account_name == "Acme Analytics"
        portal = stripe.billing_portal.Session.create(customer=done.customer)
        assert "Acme Analytics partners with Stripe" in fake.page(portal.url).text
        assert "Acme Analytics" in fake.page(invoice.hosted_invoice_url).text
        assert "Acme Analytics" in fake.page(invoice.invoice_pdf).text


def test_account_name_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKESTRIPE_ACCOUNT_NAME", "Env Corp")
    assert FakeStripe().state.account["business_profile"]["name"] == "Env Corp"
    explicit = FakeStripe(account_name="Given Inc")
    assert explicit.state.account["business_profile"]["name"] == "Given Inc"


def test_hosted_invoice_page_and_pdf(fake: FakeStripe) -> None:
    price = monthly_price(1500, "Pro")
    _, sub_id = _subscribed(fake, price)
    invoice = stripe.Invoice.retrieve(stripe.Subscription.retrieve(sub_id).latest_invoice)
    page = fake.page(invoice.hosted_invoice_url)
    assert page.status == 200
    assert f"Invoice {invoice.number}" in page.text and "$15.00" in page.text
    assert f'href="/i/{invoice.id}/pdf"' in page.text
    pdf = fake.page(invoice.invoice_pdf)
    assert pdf.status == 200 and pdf.text.startswith("%PDF-")
    assert invoice.number in pdf.text and "$15.00" in pdf.text
    assert fake.page("/i/in_nope/pdf").status == 404


def test_portal_cancel_asks_for_confirmation(fake: FakeStripe) -> None:
    price = monthly_price(1500, "Pro")
    customer, sub_id = _subscribed(fake, price)
    portal = stripe.billing_portal.Session.create(customer=customer)
    page = fake.page(portal.url)
    confirm_url = f"/p/session/{portal.id}/subscriptions/{sub_id}/cancel"
    assert f'href="{confirm_url}"' in page.text  # a link to the confirmation, not a form
    confirm = fake.page(confirm_url)
    assert confirm.status == 200
    assert "Cancel your plan" in confirm.text and f'action="{confirm_url}"' in confirm.text
    assert "still available until the end of your billing period" in confirm.text
    assert stripe.Subscription.retrieve(sub_id).cancel_at is None  # showing it changes nothing
    assert fake.page(confirm_url, {}).status == 303
    assert stripe.Subscription.retrieve(sub_id).cancel_at is not None


def test_default_portal_offers_no_quantity_box_and_refuses_a_quantity(fake: FakeStripe) -> None:
    seat, flat = _seat_and_flat()
    customer, sub_id = _subscribed(fake, seat, quantity=3)
    portal = stripe.billing_portal.Session.create(customer=customer)
    page = fake.page(portal.url)
    assert "name=quantity" not in page.text and "Business" in page.text
    update = f"/p/session/{portal.id}/subscriptions/{sub_id}/update"
    refused = fake.page(update, {"price": seat.id, "quantity": "5"})
    assert refused.status == 400
    assert "does not allow changing the quantity" in refused.text
    assert _quantity_of(sub_id) == 3
    # The quantity it already has is no change: the plan change goes through.
    assert fake.page(update, {"price": flat.id, "quantity": "3"}).status == 303
    assert stripe.Subscription.retrieve(sub_id)["items"].data[0].price.id == flat.id


def test_configured_portal_offers_the_box_for_the_per_seat_price_only(fake: FakeStripe) -> None:
    seat, flat = _seat_and_flat()
    config = stripe.billing_portal.Configuration.create(
        business_profile={"headline": "Manage your team plan"},
        features={
            "subscription_update": {
                "enabled": True,
                "default_allowed_updates": ["price", "quantity"],
                "proration_behavior": "always_invoice",
                "products": [
                    {
                        "product": seat.product,
                        "prices": [seat.id],
                        "adjustable_quantity": {"enabled": True, "minimum": 2, "maximum": 10},
                    },
                    {"product": flat.product, "prices": [flat.id]},
                ],
            },
            "subscription_cancel": {"enabled": True, "mode": "immediately"},
        },
    )
    assert config.id.startswith("bpc_") and config.is_default is False
    product = config.features.subscription_update.products[0]
    assert product.adjustable_quantity.maximum == 10
    customer, sub_id = _subscribed(fake, seat, quantity=3)
    portal = stripe.billing_portal.Session.create(customer=customer, configuration=config.id)
    assert portal.configuration == config.id
    page = fake.page(portal.url)
    assert "name=quantity type=number min=2 max=10" in page.text
    update = f"/p/session/{portal.id}/subscriptions/{sub_id}/update"
    too_many = fake.page(update, {"price": seat.id, "quantity": "11"})
    assert too_many.status == 400 and "at most 10" in too_many.text
    fake.advance(days=10)
    assert fake.page(update, {"price": seat.id, "quantity": "5"}).status == 303
    sub = stripe.Subscription.retrieve(sub_id)
    assert _quantity_of(sub_id) == 5
    invoice = stripe.Invoice.retrieve(sub.latest_invoice)  # always_invoice: billed now
    assert invoice.billing_reason == "subscription_update"
    assert [line.quantity for line in invoice.lines.data] == [3, 5]
    # On the flat plan there is no box, and a quantity is refused.
    assert fake.page(update, {"price": flat.id}).status == 303
    assert "name=quantity" not in fake.page(portal.url).text
    assert fake.page(update, {"price": flat.id, "quantity": "2"}).status == 400
    # A price the configuration does not list is refused.
    other = monthly_price(4000, "Other")
    assert fake.page(update, {"price": other.id}).status == 400
    # mode=immediately: the confirmed cancellation ends the subscription now.
    confirm = fake.page(f"/p/session/{portal.id}/subscriptions/{sub_id}/cancel")
    assert "canceled immediately" in confirm.text
    assert fake.page(f"/p/session/{portal.id}/subscriptions/{sub_id}/cancel", {}).status == 303
    assert stripe.Subscription.retrieve(sub_id).status == "canceled"


def test_portal_configuration_api(fake: FakeStripe) -> None:
    seat, _ = _seat_and_flat()
    listed = stripe.billing_portal.Configuration.list()
    assert [c.is_default for c in listed.data] == [True]
    default = listed.data[0]
    assert default.features.subscription_update.default_allowed_updates == ["price"]
    config = stripe.billing_portal.Configuration.create(
        features={"subscription_cancel": {"enabled": False}}
    )
    updated = stripe.billing_portal.Configuration.modify(
        config.id, active=False, metadata={"k": "v"}
    )
    assert updated.active is False and updated.metadata.to_dict() == {"k": "v"}
    assert [c.id for c in stripe.billing_portal.Configuration.list(active=False).data] == [
        config.id
    ]
    customer, _ = _subscribed(fake, seat)
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.billing_portal.Session.create(customer=customer, configuration=config.id)
    assert info.value.param == "configuration"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.billing_portal.Session.create(customer=customer, configuration="bpc_nope")
    assert info.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.billing_portal.Configuration.create(
            features={
                "subscription_update": {
                    "enabled": True,
                    "products": [{"product": seat.product, "prices": ["price_nope"]}],
                }
            }
        )
    assert info.value.param == "features[subscription_update][products][0][prices][0]"
    stripe.billing_portal.Configuration.modify(config.id, active=True)
    portal = stripe.billing_portal.Session.create(customer=customer, configuration=config.id)
    page = fake.page(portal.url)
    assert "Cancel plan" not in page.text  # cancellation disabled
