"""What the basic-mode billing tests drive: the webhook endpoint, posted to as Stripe posts,
and the offline Stripe (fakestripe) with the project's plans, over real HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import stripe
from django.test import Client, TestCase
from django.urls import reverse

from fakestripe import FakeStripe, PageResult
from tests.stripe_events import encode, sign

URL = "/billing/webhook/"
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"
CARD_FAILS_LATER = "4000 0000 0000 0341"  # attaches, every later charge declines
CARD_3DS_ALWAYS = "4000 0027 6000 3184"  # every charge asks the customer to authenticate


def deliver(client: Any, event: dict[str, Any], **sign_kwargs: Any) -> Any:
    """POST a Stripe event signed with a real HMAC, then run what waited for the commit (the
    billing emails), as it runs once a real request's transaction commits."""
    body = encode(event)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            URL,
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body, **sign_kwargs),
        )


@dataclass
class Offline:
    """The offline Stripe with two plans (Pro, Enterprise) and the project's webhook endpoint
    as its listener; `client` is logged in as the test user."""

    fake: FakeStripe
    client: Client
    pro: str
    enterprise: str

    def deliver(self) -> list[int]:
        """Deliver every queued event to /billing/webhook/; all must be accepted."""
        with TestCase.captureOnCommitCallbacks(execute=True):
            statuses = [delivery.status for delivery in self.fake.deliver()]
        assert all(status == 200 for status in statuses), statuses
        return statuses

    def checkout(self, price: str | None = None) -> str:
        """Start a checkout from the project's pricing page; the hosted page's URL."""
        response = self.client.post(reverse("billing:checkout"), {"price_id": price or self.pro})
        assert response.status_code == 302, response.content
        assert response["Location"].startswith(self.fake.url + "/c/pay/cs_")
        return str(response["Location"])

    def subscribe(self, card: str = CARD_OK) -> PageResult:
        """Pricing → checkout → the hosted page with `card` → back to the success page."""
        return self.fake.submit_checkout(self.checkout(), card)

    def portal(self) -> str:
        """Open the customer portal from the project, as the user would."""
        response = self.client.post(reverse("billing:customer_portal"))
        assert response.status_code == 302
        assert response["Location"].startswith(self.fake.url + "/p/session/")
        return urlsplit(response["Location"]).path

    def change_card(self, card: str) -> None:
        """Replace the default payment method in the customer portal."""
        form = {"card_number": card, "card_expiry": "12 / 34", "card_cvc": "123"}
        assert self.fake.page(f"{self.portal()}/payment_method", form).status == 303
        self.deliver()


def start_offline(fake: FakeStripe, settings: Any, client: Client) -> Offline:
    """Create the plans at the offline Stripe and point the project and its webhook at it."""
    settings.STRIPE_SECRET_KEY = fake.api_key
    prices = {}
    for name, amount in (("Pro", 2900), ("Enterprise", 9900)):
        prices[name] = stripe.Price.create(
            product_data={"name": name},
            unit_amount=amount,
            currency="usd",
            recurring={"interval": "month"},
            api_key=fake.api_key,
        ).id
    settings.BILLING_PLANS = [
        {"slug": "pro", "name": "Pro", "price_id": prices["Pro"], "amount": 2900},
        {
            "slug": "enterprise",
            "name": "Enterprise",
            "price_id": prices["Enterprise"],
            "amount": 9900,
        },
    ]
    webhook_client = Client()

    def to_webhook(body: bytes, headers: dict[str, str]) -> int:
        return webhook_client.post(
            URL,
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
        ).status_code

    settings.STRIPE_WEBHOOK_SECRET = fake.add_listener(to_webhook)
    return Offline(fake, client, prices["Pro"], prices["Enterprise"])
