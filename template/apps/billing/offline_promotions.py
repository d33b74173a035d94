"""The offline Stripe's demonstration promotion code, in both billing modes (`make run`).

With BILLING_ALLOW_PROMOTION_CODES on, Checkout shows a promotion code box; offline, the code
below is there to try it, and the billing page then shows the subscription's discount. A real
Stripe account has only the codes made in its dashboard: this runs against the offline one.
"""

from __future__ import annotations

import stripe
from django.conf import settings

#: The code `make run` prints in its banner.
DEMO_CODE = "WELCOME20"


def create_demo_promotion_code(*, api_base: str, api_key: str) -> str:
    """Create, in the offline Stripe, a 20%-off-forever coupon and its code `DEMO_CODE`."""
    client = stripe.StripeClient(
        api_key, base_addresses={"api": api_base}, stripe_version=settings.STRIPE_API_VERSION
    )
    coupon = client.v1.coupons.create(
        params={"percent_off": 20, "duration": "forever", "name": "Welcome offer"}
    )
    client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": DEMO_CODE}
    )
    return DEMO_CODE
