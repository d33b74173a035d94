"""What the success page knows about a Checkout Session, the same in both billing modes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CheckoutOutcome(StrEnum):
    #: The session is complete and its subscription is applied: access is granted now.
    CONFIRMED = "confirmed"
    #: The session is complete but Stripe has not settled it yet (e.g. a delayed payment).
    PROCESSING = "processing"
    #: The customer has not finished Checkout.
    OPEN = "open"
    #: The session expired (or was replaced by a newer one) without a purchase.
    EXPIRED = "expired"
    #: No such session, or it belongs to another user.
    NOT_FOUND = "not_found"
    #: Stripe could not be reached (or is not configured): nothing is known yet.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class CheckoutConfirmation:
    outcome: CheckoutOutcome
    #: The subscription the session created, once applied (CONFIRMED only).
    subscription: Any = None
