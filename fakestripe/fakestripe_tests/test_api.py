from __future__ import annotations

import http.client
import json
import threading
from typing import Any

import pytest
import stripe

from fakestripe import API_VERSION, FakeStripe
from fakestripe._form import decode

from .helpers import customer_with_card, monthly_price


def raw(
    fake: FakeStripe, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    hdrs = {
        "Authorization": f"Bearer {fake.api_key}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    hdrs.update(headers or {})
    conn.request(method, path, body=body.encode() if body else None, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), json.loads(data) if data else None


def test_form_decoder() -> None:
    assert decode("items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2") == {
        "items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}]
    }
    assert decode("expand[]=a&expand[]=b.c") == {"expand": ["a", "b.c"]}
    assert decode("expand[0]=a&expand[1]=b") == {"expand": ["a", "b"]}
    assert decode("metadata[k]=v&metadata[0]=zero&metadata[empty]=") == {
        "metadata": {"k": "v", "0": "zero", "empty": ""}
    }
    assert decode("a[b][c]=1&a[b][d]=2&x=") == {"a": {"b": {"c": "1", "d": "2"}}, "x": ""}
    assert decode("items[][price]=p1&items[][quantity]=1&items[][price]=p2") == {
        "items": [{"price": "p1", "quantity": "1"}, {"price": "p2"}]
    }
    assert decode("items[10][price]=b&items[2][price]=a") == {
        "items": [{"price": "a"}, {"price": "b"}]
    }
    assert decode("q=%5Bx%5D+y") == {"q": "[x] y"}


def test_account(fake: FakeStripe) -> None:
    account = stripe.Account.retrieve()
    assert account.id.startswith("acct_") and account.charges_enabled is True
    assert account.settings.dashboard.display_name
    assert stripe.Account.retrieve(account.id).id == account.id


def test_customer_crud_and_filters(fake: FakeStripe) -> None:
    cus = stripe.Customer.create(
        email="a@example.com",
        name="Ann",
        metadata={"uid": "1"},
        address={"country": "US", "postal_code": "94103"},
    )
    assert cus.id.startswith("cus_") and cus.invoice_settings.default_payment_method is None
    assert cus.address.postal_code == "94103"
    stripe.Customer.create(email="b@example.com")
    updated = stripe.Customer.modify(cus.id, name="Anne", metadata={"uid": "", "plan": "pro"})
    assert updated.name == "Anne" and updated.metadata.to_dict() == {"plan": "pro"}
    prev = fake.events("customer.updated")[-1]["data"]["previous_attributes"]
    assert prev["name"] == "Ann" and prev["metadata"] == {"uid": "1", "plan": None}
    assert [c.id for c in stripe.Customer.list(email="a@example.com").data] == [cus.id]
    stripe.Customer.modify(cus.id, email="new@example.com")
    assert stripe.Customer.list(email="a@example.com").data == []
    assert [c.id for c in stripe.Customer.list(email="new@example.com").data] == [cus.id]
    found = stripe.Customer.search(query="email:'new@example.com' AND metadata['plan']:'pro'")
    assert [c.id for c in found.data] == [cus.id]
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Customer.create(email="not-an-email")
    assert info.value.param == "email"


def test_products_and_prices(fake: FakeStripe) -> None:
    prod = stripe.Product.create(
        name="Pro",
        metadata={"tier": "pro"},
        default_price_data={
            "currency": "usd",
            "unit_amount": 1500,
            "recurring": {"interval": "month"},
        },
    )
    assert prod.default_price.startswith("price_")
    yearly = stripe.Price.create(
        product=prod.id,
        currency="usd",
        unit_amount=15000,
        recurring={"interval": "year"},
        lookup_key="pro_yearly",
        nickname="Pro yearly",
    )
    assert yearly.type == "recurring" and yearly.recurring.usage_type == "licensed"
    assert yearly.recurring.interval_count == 1 and str(yearly.unit_amount_decimal) == "15000"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Price.create(product=prod.id, currency="usd", unit_amount=1, lookup_key="pro_yearly")
    assert info.value.code == "lookup_key_already_exists"
    moved = stripe.Price.create(
        product=prod.id,
        currency="usd",
        unit_amount=14000,
        recurring={"interval": "year"},
        lookup_key="pro_yearly",
        transfer_lookup_key=True,
    )
    assert stripe.Price.retrieve(yearly.id).lookup_key is None
    listed = stripe.Price.list(lookup_keys=["pro_yearly"], expand=["data.product"])
    assert [p.id for p in listed.data] == [moved.id]
    assert listed.data[0].product.name == "Pro"
    assert len(stripe.Price.list(product=prod.id).data) == 3
    assert len(stripe.Price.list(recurring={"interval": "year"}).data) == 2
    stripe.Price.modify(yearly.id, active=False)
    assert {p.id for p in stripe.Price.list(active=False).data} == {yearly.id}
    assert stripe.Product.modify(prod.id, active=False).active is False
    assert stripe.Product.list(active=True).data == []
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Product.delete(prod.id)
    empty = stripe.Product.create(name="Empty", id="prod_custom_id")
    assert empty.id == "prod_custom_id"
    assert stripe.Product.delete(empty.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Product.retrieve(empty.id)


def test_payment_methods(fake: FakeStripe) -> None:
    cus = stripe.Customer.create(email="pm@example.com")
    pm = stripe.PaymentMethod.create(
        type="card",
        card={"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        billing_details={"name": "Jenny"},
    )
    assert pm.card.last4 == "4242" and pm.card.brand == "visa" and pm.customer is None
    attached = stripe.PaymentMethod.attach(pm.id, customer=cus.id)
    assert attached.customer == cus.id
    with pytest.raises(stripe.InvalidRequestError):
        stripe.PaymentMethod.attach(pm.id, customer=stripe.Customer.create().id)
    cus = stripe.Customer.modify(cus.id, invoice_settings={"default_payment_method": pm.id})
    assert cus.invoice_settings.default_payment_method == pm.id
    other = stripe.PaymentMethod.attach("pm_card_mastercard", customer=cus.id)
    assert other.card.brand == "mastercard"
    listed = stripe.PaymentMethod.list(customer=cus.id, type="card")
    assert [p.id for p in listed.data] == [other.id, pm.id]
    assert len(stripe.Customer.list_payment_methods(cus.id).data) == 2
    detached = stripe.PaymentMethod.detach(pm.id)
    assert detached.customer is None
    assert stripe.Customer.retrieve(cus.id).invoice_settings.default_payment_method is None
    with pytest.raises(stripe.CardError) as info:
        stripe.PaymentMethod.create(
            type="card", card={"number": "4242424242424242", "exp_month": 1, "exp_year": 2020}
        )
    assert info.value.code == "invalid_expiry_year"
    with pytest.raises(stripe.CardError) as info:
        stripe.PaymentMethod.create(
            type="card", card={"number": "4111111111111112", "exp_month": 1, "exp_year": 2040}
        )
    assert info.value.code == "incorrect_number"


def test_idempotency_keys(fake: FakeStripe) -> None:
    first = stripe.Customer.create(email="i@example.com", idempotency_key="key-1")
    second = stripe.Customer.create(email="i@example.com", idempotency_key="key-1")
    assert first.id == second.id
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(stripe.Customer.list().data) == 1
    with pytest.raises(stripe.IdempotencyError) as info:
        stripe.Customer.create(email="other@example.com", idempotency_key="key-1")
    assert info.value.http_status == 400
    assert info.value.error.type == "idempotency_error"
    # validation errors are not stored: fixing the request with the same key works
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Customer.create(email="bad", idempotency_key="key-2")
    status, _, body = raw(
        fake, "POST", "/v1/customers", "email=ok%40example.com", {"Idempotency-Key": "key-2"}
    )
    assert status == 200 and body["email"] == "ok@example.com"
    # a card error is stored and replayed
    cus = stripe.Customer.create()
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            stripe.PaymentMethod.attach(
                "pm_card_chargeDeclined", customer=cus.id, idempotency_key="key-3"
            )


def test_concurrent_idempotent_requests(fake: FakeStripe) -> None:
    results: list[int] = []

    def post() -> None:
        status, _, _ = raw(
            fake, "POST", "/v1/customers", "email=c%40example.com", {"Idempotency-Key": "same"}
        )
        results.append(status)

    with fake.state.lock:  # hold the state so both requests are in flight together
        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        threads[0].join(0.3)
        threads[1].join(0.3)
    for t in threads:
        t.join(5)
    assert sorted(results) == [200, 409]
    assert len(stripe.Customer.list().data) == 1


def test_pagination(fake: FakeStripe) -> None:
    ids = [stripe.Customer.create(email=f"p{n}@example.com").id for n in range(25)]
    newest_first = list(reversed(ids))
    page1 = stripe.Customer.list(limit=10)
    assert [c.id for c in page1.data] == newest_first[:10] and page1.has_more
    assert page1.url == "/v1/customers"
    page2 = stripe.Customer.list(limit=10, starting_after=page1.data[-1].id)
    assert [c.id for c in page2.data] == newest_first[10:20] and page2.has_more
    page3 = stripe.Customer.list(limit=10, starting_after=page2.data[-1].id)
    assert [c.id for c in page3.data] == newest_first[20:] and not page3.has_more
    back = stripe.Customer.list(limit=5, ending_before=page2.data[0].id)
    assert [c.id for c in back.data] == newest_first[5:10] and back.has_more
    assert [c.id for c in stripe.Customer.list(limit=3).auto_paging_iter()] == newest_first
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Customer.list(limit=101)
    assert info.value.param == "limit"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Customer.list(starting_after="cus_missing")
    assert info.value.param == "starting_after"
    created = stripe.Customer.retrieve(ids[0]).created
    assert len(stripe.Customer.list(created={"gte": created}, limit=100).data) == 25
    assert stripe.Customer.list(created={"lt": created}).data == []


def test_expand(fake: FakeStripe) -> None:
    price = monthly_price(1500, "Expandable")
    cus = customer_with_card()
    sub = stripe.Subscription.create(customer=cus.id, items=[{"price": price.id}])
    got = stripe.Subscription.retrieve(
        sub.id,
        expand=["customer", "latest_invoice", "default_payment_method", "items.data.price.product"],
    )
    assert got.customer.email == "jenny@example.com"
    assert got.latest_invoice.object == "invoice"
    # got["items"], not got.items: dj-stripe (advanced mode) adds dict methods to StripeObject.
    assert got["items"].data[0].price.product.name == "Expandable"
    listed = stripe.Subscription.list(expand=["data.customer", "data.latest_invoice"])
    assert listed.data[0].customer.id == cus.id
    assert listed.data[0].latest_invoice.status == "paid"
    inv = stripe.Invoice.retrieve(
        sub.latest_invoice, expand=["customer", "parent.subscription_details.subscription"]
    )
    assert inv.parent.subscription_details.subscription.id == sub.id
    assert inv.customer.id == cus.id
    lines = stripe.Invoice.list_lines(inv.id, expand=["data.pricing.price_details.price"])
    assert lines.data[0].pricing.price_details.price.unit_amount == 1500
    cus_full = stripe.Customer.retrieve(cus.id, expand=["invoice_settings.default_payment_method"])
    assert cus_full.invoice_settings.default_payment_method.card.last4 == "4242"
    # not expanded by default
    assert isinstance(stripe.Subscription.retrieve(sub.id).customer, str)
    for bad in ("currency", "nope", "lines.data.pricing.price_details.price"):
        with pytest.raises(stripe.InvalidRequestError) as info:
            stripe.Invoice.retrieve(inv.id, expand=[bad])
        assert info.value.param == "expand"


def test_dj_stripe_style_expansions(fake: FakeStripe) -> None:
    """The expand lists dj-stripe sends when it re-fetches objects must all work."""
    price = monthly_price(1500)
    cus = customer_with_card()
    sub = stripe.Subscription.create(customer=cus.id, items=[{"price": price.id}])
    got = stripe.Customer.retrieve(cus.id, expand=["default_source", "sources", "subscriptions"])
    assert got.sources.data == [] and got.subscriptions.data[0].id == sub.id
    got_price = stripe.Price.retrieve(price.id, expand=["currency_options", "product", "tiers"])
    assert got_price.currency_options["usd"].unit_amount == 1500
    assert got_price.tiers is None and got_price.product.object == "product"
    inv = stripe.Invoice.retrieve(sub.latest_invoice, expand=["discounts", "lines.data.discounts"])
    assert inv.discounts == [] and inv.lines.data[0].discounts == []
    stripe.Subscription.retrieve(sub.id, expand=["discounts"])
    session = stripe.checkout.Session.create(
        mode="subscription",
        line_items=[{"price": price.id, "quantity": 1}],
        success_url="https://app.example/ok",
    )
    got_session = stripe.checkout.Session.retrieve(
        session.id,
        expand=["line_items", "total_details.breakdown", "line_items.data.discounts"],
    )
    assert got_session.total_details.breakdown.taxes == []
    assert got_session.line_items.data[0].discounts == []


def test_error_shapes(fake: FakeStripe) -> None:
    status, headers, body = raw(fake, "GET", "/v1/customers/cus_nope")
    assert status == 404
    assert body == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "id",
            "message": "No such customer: 'cus_nope'",
            "doc_url": "https://docs.stripe.com/error-codes#resource-missing",
            "request_log_url": body["error"]["request_log_url"],
        }
    }
    assert headers["Stripe-Version"] == API_VERSION
    assert headers["Request-Id"].startswith("req_")
    status, _, body = raw(fake, "GET", "/v1/unknown_things")
    assert status == 404 and body["error"]["type"] == "invalid_request_error"
    assert "Unrecognized request URL (GET: /v1/unknown_things)" in body["error"]["message"]
    status, _, body = raw(fake, "GET", "/v1/customers", headers={"Authorization": ""})
    assert status == 401 and "did not provide an API key" in body["error"]["message"]
    for bad_key in ("sk_test_short", "sk_live_" + "a" * 30, "pk_test_" + "a" * 30):
        status, _, body = raw(
            fake, "GET", "/v1/customers", headers={"Authorization": f"Bearer {bad_key}"}
        )
        assert status == 401, bad_key
    other_key = "sk_test_" + "Z" * 30
    status, _, _ = raw(fake, "GET", "/v1/account", headers={"Authorization": f"Bearer {other_key}"})
    assert status == 200
    status, _, body = raw(fake, "POST", "/v1/customers", "bogus=1")
    assert status == 400 and body["error"]["code"] == "parameter_unknown"
    assert body["error"]["param"] == "bogus"
    status, _, _ = raw(
        fake, "POST", "/v1/customers", '{"email": "x"}', {"Content-Type": "application/json"}
    )
    assert status == 400
    # Any Stripe-Version is accepted; answers are in the pinned shape.
    status, headers, _ = raw(fake, "GET", "/v1/account", headers={"Stripe-Version": "2020-08-27"})
    assert status == 200 and headers["Stripe-Version"] == API_VERSION


def test_stripe_python_exception_classes(fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Customer.retrieve("cus_missing")
    assert info.value.http_status == 404 and info.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Price.create(currency="usd", unit_amount=100)
    assert info.value.http_status == 400 and info.value.param == "product"
    assert info.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Price.create(product="prod_x", currency="usd", unit_amount="ten")
    assert info.value.param == "unit_amount"
    with pytest.raises(stripe.AuthenticationError):
        stripe.Customer.list(api_key="sk_test_bad")
    with pytest.raises(stripe.CardError) as info:
        stripe.Customer.create(payment_method="pm_card_chargeDeclinedInsufficientFunds")
    assert info.value.error.decline_code == "insufficient_funds"
    assert info.value.http_status == 402


def test_webhook_endpoints_and_events_api(fake: FakeStripe) -> None:
    ep = stripe.WebhookEndpoint.create(
        url="http://127.0.0.1:9/hook", enabled_events=["customer.created"]
    )
    assert ep.secret.startswith("whsec_") and ep.status == "enabled"
    assert "secret" not in stripe.WebhookEndpoint.retrieve(ep.id)
    ep = stripe.WebhookEndpoint.modify(ep.id, disabled=True, enabled_events=["*"])
    assert ep.status == "disabled" and ep.enabled_events == ["*"]
    assert [e.id for e in stripe.WebhookEndpoint.list().data] == [ep.id]
    assert stripe.WebhookEndpoint.delete(ep.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        stripe.WebhookEndpoint.create(url="http://127.0.0.1:9/hook")

    cus = stripe.Customer.create(email="ev@example.com")
    stripe.Customer.modify(cus.id, name="Ev")
    events = stripe.Event.list(type="customer.*")
    assert [e.type for e in events.data] == ["customer.updated", "customer.created"]
    assert events.data[1].data["object"]["id"] == cus.id
    assert events.data[0].data["previous_attributes"]["name"] is None
    assert events.data[0]["request"]["id"].startswith("req_")
    one = stripe.Event.retrieve(events.data[0].id)
    assert one.api_version == API_VERSION and one.type == "customer.updated"
    assert len(stripe.Event.list(types=["customer.created", "customer.updated"]).data) == 2
    assert stripe.Event.list(type="customer.created").data[0].id == events.data[1].id


def test_a_list_filtered_by_an_unknown_customer_is_refused(fake: FakeStripe) -> None:
    for resource in (stripe.Subscription, stripe.Invoice, stripe.checkout.Session):
        with pytest.raises(stripe.InvalidRequestError) as info:
            resource.list(customer="cus_neverexisted")
        error = info.value
        assert (error.http_status, error.code, error.param) == (400, "resource_missing", "customer")
        assert "No such customer: 'cus_neverexisted'" in str(error.user_message)
    customer = customer_with_card()
    price = monthly_price()
    stripe.Subscription.create(customer=customer.id, items=[{"price": price.id}])
    stripe.Customer.delete(customer.id)
    # A deleted customer's objects can still be listed.
    assert len(stripe.Invoice.list(customer=customer.id).data) == 1
