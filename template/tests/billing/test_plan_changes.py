"""Plan changes in the app, in both billing modes, against the offline Stripe over HTTP with
webhooks signed by a real HMAC: the change-plan page's quote is what Stripe charges, an
upgrade applies now (a declined card changes nothing), a downgrade waits for the period end
(a subscription schedule), and a subscription cancels at period end and resumes."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import stripe
from django.core import signing
from django.test import Client
from django.urls import reverse

from apps.billing import plan_changes, plan_state
from apps.billing.money import format_money
from apps.billing.selectors import get_active_subscription, plan_slug_of
from apps.billing.templatetags.billing_tags import day

from .test_checkout_lifecycle import CARD_OK, fail_renewals, start_checkout

pytestmark = pytest.mark.django_db
DAY = 86_400


def price_of(slug: str) -> str:
    return next(plan.price_id for plan in plan_state.plan_options() if plan.slug == slug)


def subscribe(billing_stripe: Any, client: Client, slug: str = "pro") -> str:
    """Pay for the plan `slug` through Checkout, deliver the webhooks; the subscription id."""
    result = billing_stripe.fake.submit_checkout(start_checkout(client, price_of(slug)), CARD_OK)
    assert result.status == 303, result
    billing_stripe.deliver()
    created = billing_stripe.fake.events("customer.subscription.created")[-1]
    return str(created["data"]["object"]["id"])


def quotes_on_page(client: Client) -> dict[str, dict[str, str]]:
    """The change-plan page's quotes by plan slug: the token, due-now and renewal texts."""
    page = client.get(reverse("billing:change_plan"))
    assert page.status_code == 200
    text = page.content.decode()
    quotes = {}
    for slug, card in re.findall(r'data-plan="([^"]+)">(.*?)</form>', text, re.S):
        due = re.search(r'class="due-now">([^<]+)<', card)
        quotes[slug] = {
            "token": html.unescape(re.search(r'name="quote" value="([^"]+)"', card)[1]),
            "due_now": html.unescape(due[1]) if due else "",
            "renewal": html.unescape(re.search(r'class="renewal">([^<]+)<', card)[1]),
        }
    return quotes


def billing_page(client: Client) -> str:
    return client.get(reverse("billing:subscription")).content.decode()


def price_at_stripe(billing_stripe: Any, subscription_id: str) -> str:
    item = billing_stripe.fake.get(subscription_id)["items"]["data"][0]
    return str(item["price"]["id"])


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def test_a_non_subscriber_gets_a_clear_page(billing_stripe, signed_in):
    page = signed_in.get(reverse("billing:change_plan"))
    assert page.status_code == 200
    assert "no active subscription" in page.content.decode()
    page = signed_in.post(reverse("billing:change_plan"), {"quote": "anything"})
    assert page.status_code in (302, 409)
    assert signed_in.get(reverse("billing:cancel")).status_code == 200
    assert signed_in.post(reverse("billing:resume")).status_code == 302


def test_an_upgrade_charges_exactly_the_quoted_amount(billing_stripe, signed_in, user):
    subscription_id = subscribe(billing_stripe, signed_in)
    quote = quotes_on_page(signed_in)["enterprise"]

    response = signed_in.post(reverse("billing:change_plan"), {"quote": quote["token"]})
    assert response.status_code == 302 and response["Location"] == reverse("billing:subscription")
    invoice = stripe.Invoice.retrieve(
        billing_stripe.fake.get(subscription_id)["latest_invoice"]
    ).to_dict()
    assert invoice["billing_reason"] == "subscription_update"
    assert invoice["status"] == "paid"
    assert format_money(invoice["amount_paid"], invoice["currency"]) == quote["due_now"]
    assert invoice["amount_paid"] > 0
    assert price_at_stripe(billing_stripe, subscription_id) == price_of("enterprise")
    assert quote["renewal"] == format_money(9900, "usd")
    # The page already shows the new plan; the webhooks that follow agree.
    assert plan_slug_of(get_active_subscription(user)) == "enterprise"
    billing_stripe.deliver()
    assert plan_slug_of(get_active_subscription(user)) == "enterprise"

    # The same quote again (a double submit, a back button) charges nothing more.
    invoices = len(stripe.Invoice.list(subscription=subscription_id, limit=100).data)
    signed_in.post(reverse("billing:change_plan"), {"quote": quote["token"]})
    assert len(stripe.Invoice.list(subscription=subscription_id, limit=100).data) == invoices


def test_a_declined_upgrade_leaves_the_plan_unchanged(billing_stripe, signed_in, user):
    subscription_id = subscribe(billing_stripe, signed_in)
    fail_renewals(billing_stripe, user)  # the card on file now declines every charge
    billing_stripe.deliver()
    quote = quotes_on_page(signed_in)["enterprise"]

    response = signed_in.post(
        reverse("billing:change_plan"), {"quote": quote["token"]}, follow=True
    )
    text = response.content.decode()
    assert "declined" in text and "not changed" in text
    assert price_at_stripe(billing_stripe, subscription_id) == price_of("pro")
    billing_stripe.deliver()
    subscription = get_active_subscription(user)
    assert plan_slug_of(subscription) == "pro" and subscription.status == "active"


def test_a_downgrade_happens_at_the_period_end(billing_stripe, signed_in, user):
    subscription_id = subscribe(billing_stripe, signed_in, "enterprise")
    quote = quotes_on_page(signed_in)["pro"]
    assert quote["due_now"] == ""  # nothing due now
    assert quote["renewal"] == format_money(2900, "usd")

    response = signed_in.post(reverse("billing:change_plan"), {"quote": quote["token"]})
    assert response.status_code == 302
    billing_stripe.deliver()
    period_end = billing_stripe.fake.get(subscription_id)["items"]["data"][0]["current_period_end"]
    page = billing_page(signed_in)
    assert "Changes to Pro on" in page
    assert price_at_stripe(billing_stripe, subscription_id) == price_of("enterprise")
    assert plan_slug_of(get_active_subscription(user)) == "enterprise"

    billing_stripe.fake.advance(seconds=period_end - billing_stripe.fake.now() + 60)
    billing_stripe.deliver()
    assert price_at_stripe(billing_stripe, subscription_id) == price_of("pro")
    assert plan_slug_of(get_active_subscription(user)) == "pro"
    assert "Changes to" not in billing_page(signed_in)
    renewal = stripe.Invoice.list(subscription=subscription_id, limit=1).data[0]
    assert renewal["billing_reason"] == "subscription_cycle"
    assert format_money(renewal["amount_due"], renewal["currency"]) == quote["renewal"]


def test_a_scheduled_downgrade_can_be_canceled(billing_stripe, signed_in, user):
    subscription_id = subscribe(billing_stripe, signed_in, "enterprise")
    signed_in.post(
        reverse("billing:change_plan"), {"quote": quotes_on_page(signed_in)["pro"]["token"]}
    )
    billing_stripe.deliver()
    assert "Changes to Pro on" in billing_page(signed_in)

    response = signed_in.post(reverse("billing:cancel_scheduled_change"))
    assert response.status_code == 302
    assert "Changes to" not in billing_page(signed_in)
    billing_stripe.deliver()
    assert "Changes to" not in billing_page(signed_in)
    assert billing_stripe.fake.get(subscription_id)["schedule"] is None

    billing_stripe.fake.advance(days=32)
    billing_stripe.deliver()
    assert price_at_stripe(billing_stripe, subscription_id) == price_of("enterprise")
    assert plan_slug_of(get_active_subscription(user)) == "enterprise"


def test_cancel_then_resume(billing_stripe, signed_in, user):
    subscription_id = subscribe(billing_stripe, signed_in)
    confirm = signed_in.get(reverse("billing:cancel"))
    assert (
        confirm.status_code == 200 and "Cancel at the end of the period" in confirm.content.decode()
    )
    assert billing_stripe.fake.get(subscription_id)["cancel_at_period_end"] is False

    signed_in.post(reverse("billing:cancel"))
    remote = billing_stripe.fake.get(subscription_id)
    assert remote["cancel_at_period_end"] is True
    ends = day(get_active_subscription(user).current_period_end)
    assert f"Cancels on {ends}" in billing_page(signed_in)
    billing_stripe.deliver()
    assert f"Cancels on {ends}" in billing_page(signed_in)

    signed_in.post(reverse("billing:resume"))
    assert billing_stripe.fake.get(subscription_id)["cancel_at_period_end"] is False
    billing_stripe.deliver()
    page = billing_page(signed_in)
    assert "Cancels on" not in page and "Change plan" in page


def test_resume_undoes_a_cancel_at_set_in_the_portal(billing_stripe, signed_in, user):
    subscription_id = subscribe(billing_stripe, signed_in)
    period_end = billing_stripe.fake.get(subscription_id)["items"]["data"][0]["current_period_end"]
    # Flexible billing mode's portal sets a date, not cancel_at_period_end.
    stripe.Subscription.modify(subscription_id, cancel_at=period_end - DAY)
    billing_stripe.deliver()
    assert "Cancels on" in billing_page(signed_in)

    signed_in.post(reverse("billing:resume"))
    remote = billing_stripe.fake.get(subscription_id)
    assert remote["cancel_at"] is None and remote["cancel_at_period_end"] is False
    billing_stripe.deliver()
    assert "Cancels on" not in billing_page(signed_in)


def test_a_tampered_or_old_quote_is_refused(billing_stripe, signed_in, user, monkeypatch):
    subscription_id = subscribe(billing_stripe, signed_in)
    token = quotes_on_page(signed_in)["enterprise"]["token"]
    payload = signing.loads(token, salt=plan_changes._SALT)

    def refused(quote: str) -> str:
        page = signed_in.post(reverse("billing:change_plan"), {"quote": quote}, follow=True)
        return page.content.decode()

    # Altered: a lower amount, re-encoded without the key; or any byte changed.
    forged = signing.dumps({**payload, "due_now": 1}, key="not the project's key")
    assert "could not be verified" in refused(forged)
    assert "could not be verified" in refused(
        token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    )
    # Another user's quote.
    other = signing.dumps({**payload, "user": user.pk + 1}, salt=plan_changes._SALT)
    assert "could not be verified" in refused(other)
    # Too old.
    monkeypatch.setattr(plan_changes, "QUOTE_MAX_AGE", -1)
    assert "too long ago" in refused(token)
    assert price_at_stripe(billing_stripe, subscription_id) == price_of("pro")
    assert len(stripe.Invoice.list(subscription=subscription_id, limit=100).data) == 1


def test_during_a_trial_a_change_costs_nothing_now(billing_stripe, signed_in, user, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    subscription_id = subscribe(billing_stripe, signed_in)
    assert get_active_subscription(user).status == "trialing"
    quote = quotes_on_page(signed_in)["enterprise"]
    assert quote["due_now"] == format_money(0, "usd")

    signed_in.post(reverse("billing:change_plan"), {"quote": quote["token"]})
    assert price_at_stripe(billing_stripe, subscription_id) == price_of("enterprise")
    billing_stripe.deliver()
    subscription = get_active_subscription(user)
    assert plan_slug_of(subscription) == "enterprise" and subscription.status == "trialing"


def test_cancelling_drops_a_scheduled_downgrade(billing_stripe, signed_in, user):
    subscription_id = subscribe(billing_stripe, signed_in, "enterprise")
    signed_in.post(
        reverse("billing:change_plan"), {"quote": quotes_on_page(signed_in)["pro"]["token"]}
    )
    billing_stripe.deliver()
    assert "Changes to Pro on" in billing_page(signed_in)

    signed_in.post(reverse("billing:cancel"))
    billing_stripe.deliver()
    remote = billing_stripe.fake.get(subscription_id)
    assert remote["schedule"] is None and remote["cancel_at_period_end"] is True
    page = billing_page(signed_in)
    assert "Cancels on" in page and "Changes to" not in page


def test_a_quote_the_subscription_outgrew_is_refused(billing_stripe, signed_in, user):
    subscription_id = subscribe(billing_stripe, signed_in)
    quote = quotes_on_page(signed_in)["enterprise"]
    # A second seat since the quote (its proration waits for the next invoice): the upgrade
    # would now cost more than quoted.
    item = billing_stripe.fake.get(subscription_id)["items"]["data"][0]["id"]
    stripe.Subscription.modify(subscription_id, items=[{"id": item, "quantity": 2}])

    page = signed_in.post(reverse("billing:change_plan"), {"quote": quote["token"]}, follow=True)
    assert "changed since this quote" in page.content.decode()
    assert price_at_stripe(billing_stripe, subscription_id) == price_of("pro")
    fresh = quotes_on_page(signed_in)["enterprise"]
    assert fresh["due_now"] != quote["due_now"]


def test_a_mid_period_upgrade_charges_the_prorated_quote(
    billing_stripe, signed_in, user, monkeypatch
):
    subscription_id = subscribe(billing_stripe, signed_in)
    billing_stripe.fake.advance(days=10)
    # The proration date is the project's clock: here the offline Stripe's, 10 days on.
    now = billing_stripe.fake.now()
    monkeypatch.setattr(plan_changes, "time", type("Clock", (), {"time": lambda: now}))
    quote = quotes_on_page(signed_in)["enterprise"]
    item = billing_stripe.fake.get(subscription_id)["items"]["data"][0]
    start, end = item["current_period_start"], item["current_period_end"]
    left = (end - now) / (end - start)
    assert quote["due_now"] == format_money(round(9900 * left) - round(2900 * left), "usd")

    signed_in.post(reverse("billing:change_plan"), {"quote": quote["token"]})
    invoice = stripe.Invoice.retrieve(billing_stripe.fake.get(subscription_id)["latest_invoice"])
    assert format_money(invoice["amount_paid"], "usd") == quote["due_now"]


def test_a_downgrade_stripe_refuses_leaves_no_schedule(billing_stripe, signed_in, monkeypatch):
    subscription_id = subscribe(billing_stripe, signed_in, "enterprise")
    token = quotes_on_page(signed_in)["pro"]["token"]

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise stripe.InvalidRequestError("Phases could not be changed.", param="phases")

    monkeypatch.setattr(stripe.SubscriptionSchedule, "modify", refuse)
    page = signed_in.post(reverse("billing:change_plan"), {"quote": token})
    assert page.status_code == 502 and "could not change" in page.content.decode()
    assert billing_stripe.fake.get(subscription_id)["schedule"] is None
    billing_stripe.deliver()
    assert "Changes to" not in billing_page(signed_in)
    assert "pro" in quotes_on_page(signed_in)  # a new change can be chosen


def test_a_discounted_subscription_is_quoted_and_charged_with_its_discount(
    billing_stripe, signed_in, settings
):
    settings.BILLING_ALLOW_PROMOTION_CODES = True
    coupon = stripe.Coupon.create(percent_off=20, duration="forever")
    stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="SAVE20")
    checkout = start_checkout(signed_in, price_of("pro"))
    result = billing_stripe.fake.submit_checkout(checkout, CARD_OK, promotion_code="SAVE20")
    assert result.status == 303, result
    billing_stripe.deliver()
    subscription_id = billing_stripe.fake.events("customer.subscription.created")[-1]["data"][
        "object"
    ]["id"]
    quote = quotes_on_page(signed_in)["enterprise"]
    # 20% off the $99 plan at each renewal, not the list price.
    assert quote["renewal"] == format_money(7920, "usd")

    signed_in.post(reverse("billing:change_plan"), {"quote": quote["token"]})
    invoice = stripe.Invoice.retrieve(
        billing_stripe.fake.get(subscription_id)["latest_invoice"]
    ).to_dict()
    assert invoice["billing_reason"] == "subscription_update"
    assert invoice["total_discount_amounts"], "the proration is discounted too"
    assert format_money(invoice["amount_paid"], invoice["currency"]) == quote["due_now"]
