"""What the billing tests both modes share drive: the offline Stripe of one test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakestripe import FakeStripe


@dataclass(frozen=True)
class BillingStripe:
    """The offline Stripe with a purchasable plan (`price_id`); `deliver()` posts its queued
    events, signed with a real HMAC, to the mode's webhook endpoint (all must be accepted)."""

    fake: FakeStripe
    price_id: str
    deliver: Callable[[], Any]
