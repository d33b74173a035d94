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


@dataclass(frozen=True)
class TeamPlans:
    """Two team plans at the offline Stripe, beside the mode's others (Pro first):
    `seat_price_id` is Team, billed per seat at `seat_amount` a month; `small_price_id` is
    Small team, a flat price for at most `small_cap` members (Pro allows more)."""

    seat_price_id: str
    small_price_id: str
    seat_amount: int = 1500
    small_cap: int = 3
