from __future__ import annotations

# The contract check itself, plus one long flow whose every response and event is walked.
import json

import stripe

from fakestripe import FakeStripe

from .conftest import contract_problems
from .contract import Checker, declared
from .helpers import checkout, customer_with_card, monthly_price


def test_checker_flags_undeclared_fields() -> None:
    checker = Checker(check_required=False)
    checker.check(
        {
            "id": "sub_1",
            "object": "subscription",
            "current_period_end": 1,  # moved to items in basil: must be flagged
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_1",
                        "object": "subscription_item",
                        "bogus": 1,
                        "plan": {"id": "price_1", "object": "plan", "aggregate_usage": None},
                        "billing_thresholds": {"usage_gte": 1, "nope": 2},
                    }
                ],
                "has_more": False,
                "url": "/v1/subscription_items",
            },
        },
        None,
        "sub",
    )
    text = "\n".join(checker.problems)
    assert "sub.current_period_end: not declared on Subscription" in text
    assert ".bogus: not declared on SubscriptionItem" in text
    assert ".aggregate_usage: not declared on Plan" in text
    assert ".billing_thresholds.nope: not declared on SubscriptionItem.BillingThresholds" in text


def test_checker_flags_wrong_invoice_shape_and_missing_fields() -> None:
    checker = Checker()
    checker.check({"id": "in_1", "object": "invoice", "subscription": "sub_1"}, None, "inv")
    text = "\n".join(checker.problems)
    assert "inv.subscription: not declared on Invoice" in text
    assert "required field 'lines' missing" in text
    assert "period_start" in declared(stripe.Invoice)


def test_full_flow_contract(fake: FakeStripe) -> None:
    """Exercise many shapes; the fixture walks all responses and events afterwards."""
    meter = stripe.billing.Meter.create(
        display_name="Calls", event_name="calls", default_aggregation={"formula": "count"}
    )
    metered = stripe.Price.create(
        product_data={"name": "Calls"},
        currency="usd",
        unit_amount=3,
        recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
    )
    basic = monthly_price(1000, "Basic")
    premium = monthly_price(2500, "Premium")
    session = checkout(
        basic.id, customer_email="contract@example.com", subscription_data={"trial_period_days": 3}
    )
    fake.submit_checkout(session.id)
    done = stripe.checkout.Session.retrieve(
        session.id, expand=["line_items", "customer", "subscription.latest_invoice"]
    )
    sub_id = done.subscription.id
    fake.advance(days=4)
    sub = stripe.Subscription.retrieve(sub_id)
    stripe.Subscription.modify(
        sub_id,
        items=[{"id": sub["items"].data[0].id, "price": premium.id}, {"price": metered.id}],
        proration_behavior="always_invoice",
    )
    stripe.billing.MeterEvent.create(
        event_name="calls", payload={"stripe_customer_id": done.customer.id}
    )
    portal = stripe.billing_portal.Session.create(
        customer=done.customer.id, return_url="https://app.example/"
    )
    fake.page(f"/p/session/{portal.id}/subscriptions/{sub_id}/cancel", {})
    fake.advance(days=40)
    other = customer_with_card("pm_card_chargeCustomerFail", "fail@example.com")
    stripe.Subscription.create(customer=other.id, items=[{"price": basic.id}])
    stripe.Invoice.list(expand=["data.customer"])
    stripe.Subscription.list(status="all", expand=["data.default_payment_method"])
    stripe.Event.list(limit=100)
    stripe.Customer.search(query="email:'contract@example.com'")
    stripe.billing.Meter.list_event_summaries(
        meter.id, customer=done.customer.id, start_time=0, end_time=fake.now() // 60 * 60
    )
    stripe.Customer.delete(other.id)
    stripe.Product.create(name="Bye")
    problems = contract_problems(fake)
    assert not problems, "\n".join(problems)
    checker = Checker()
    for method, path, _status, body in fake.responses or []:
        checker.check_json(body, f"{method} {path}")
    for event in fake.events():
        checker.check(event, None, event["type"])
    expected = {
        "customer",
        "product",
        "price",
        "plan",
        "subscription",
        "subscription_item",
        "invoice",
        "line_item",
        "payment_method",
        "checkout.session",
        "item",
        "billing_portal.session",
        "billing.meter",
        "billing.meter_event",
        "billing.meter_event_summary",
        "event",
        "list",
        "search_result",
    }
    assert expected <= checker.seen_types, expected - checker.seen_types
    assert len(fake.events()) > 30
    json.dumps(fake.events())
