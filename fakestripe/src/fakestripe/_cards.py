from __future__ import annotations

# Stripe's documented test cards and the ``pm_card_*`` / ``tok_*`` shortcuts.
import hashlib
from dataclasses import dataclass

from ._errors import StripeError, card_error


@dataclass(frozen=True)
class Decline:
    code: str
    message: str
    decline_code: str | None = None
    param: str | None = None

    def error(self) -> StripeError:
        return card_error(self.message, self.code, self.decline_code, self.param)


GENERIC = Decline("card_declined", "Your card was declined.", "generic_decline")
INSUFFICIENT = Decline("card_declined", "Your card has insufficient funds.", "insufficient_funds")
LOST = Decline("card_declined", "Your card was declined.", "lost_card")
STOLEN = Decline("card_declined", "Your card was declined.", "stolen_card")
EXPIRED = Decline("expired_card", "Your card has expired.", "expired_card", "exp_month")
BAD_CVC = Decline(
    "incorrect_cvc", "Your card's security code is incorrect.", "incorrect_cvc", "cvc"
)
PROCESSING = Decline(
    "processing_error",
    "An error occurred while processing your card. Try again in a little bit.",
    "processing_error",
)
AUTH_REQUIRED = Decline(
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
    "authentication_required",
)
NOT_TEST_CARD = Decline(
    "card_declined",
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://docs.stripe.com/testing.",
    "test_mode_live_card",
)
INVALID_NUMBER = Decline("incorrect_number", "Your card number is incorrect.", None, "number")
AUTH_FAILED_MESSAGE = (
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again."
)


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    funding: str = "credit"
    country: str = "US"
    attach_error: Decline | None = None  # fails already when attached / entered
    charge_error: Decline | None = None  # attaches fine, charges fail
    auth: str = "none"  # "none" | "unless_setup" | "always"

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.number.encode()).hexdigest()[:16]


_CARDS = [
    TestCard("4242424242424242", "visa"),
    TestCard("4000056655665556", "visa", funding="debit"),
    TestCard("5555555555554444", "mastercard"),
    TestCard("2223003122003222", "mastercard"),
    TestCard("5200828282828210", "mastercard", funding="debit"),
    TestCard("378282246310005", "amex"),
    TestCard("371449635398431", "amex"),
    TestCard("6011111111111117", "discover"),
    TestCard("3056930009020004", "diners"),
    TestCard("3566002020360505", "jcb"),
    TestCard("6200000000000005", "unionpay"),
    TestCard("4000000000000077", "visa"),
    TestCard("4000000000000002", "visa", attach_error=GENERIC, charge_error=GENERIC),
    TestCard("4000000000009995", "visa", attach_error=INSUFFICIENT, charge_error=INSUFFICIENT),
    TestCard("4000000000009987", "visa", attach_error=LOST, charge_error=LOST),
    TestCard("4000000000009979", "visa", attach_error=STOLEN, charge_error=STOLEN),
    TestCard("4000000000000069", "visa", attach_error=EXPIRED, charge_error=EXPIRED),
    TestCard("4000000000000127", "visa", attach_error=BAD_CVC, charge_error=BAD_CVC),
    TestCard("4000000000000119", "visa", attach_error=PROCESSING, charge_error=PROCESSING),
    TestCard("4000000000000341", "visa", charge_error=GENERIC),
    TestCard("4000002500003155", "visa", auth="unless_setup"),
    TestCard("4000002760003184", "visa", auth="always"),
    TestCard("4000003800000446", "visa", auth="unless_setup"),
]
CARDS_BY_NUMBER: dict[str, TestCard] = {c.number: c for c in _CARDS}

_SHORTCUTS = {
    "visa": "4242424242424242",
    "visa_debit": "4000056655665556",
    "mastercard": "5555555555554444",
    "mastercard_debit": "5200828282828210",
    "amex": "378282246310005",
    "discover": "6011111111111117",
    "diners": "3056930009020004",
    "jcb": "3566002020360505",
    "unionpay": "6200000000000005",
    "chargeDeclined": "4000000000000002",
    "chargeDeclinedInsufficientFunds": "4000000000009995",
    "chargeDeclinedLostCard": "4000000000009987",
    "chargeDeclinedStolenCard": "4000000000009979",
    "chargeDeclinedExpiredCard": "4000000000000069",
    "chargeDeclinedIncorrectCvc": "4000000000000127",
    "chargeDeclinedProcessingError": "4000000000000119",
    "chargeCustomerFail": "4000000000000341",
    "authenticationRequiredOnSetup": "4000002500003155",
    "authenticationRequired": "4000002760003184",
    "threeDSecure2Required": "4000000000003220",
}
CARDS_BY_NUMBER["4000000000003220"] = TestCard("4000000000003220", "visa", auth="always")

# Shown on the hosted pages.
HINTS = [
    ("4242 4242 4242 4242", "Succeeds"),
    ("4000 0000 0000 0002", "Declined (card_declined)"),
    ("4000 0000 0000 9995", "Declined (insufficient_funds)"),
    ("4000 0000 0000 0341", "Attaches, later charges fail"),
    ("4000 0025 0000 3155", "Requires 3D Secure authentication"),
]


def shortcut_card(name: str) -> TestCard | None:
    """Resolve ``pm_card_visa`` / ``tok_visa`` style test ids."""
    for prefix in ("pm_card_", "tok_"):
        if name.startswith(prefix):
            number = _SHORTCUTS.get(name[len(prefix) :])
            if number:
                return CARDS_BY_NUMBER[number]
    return None


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def lookup_number(raw: str) -> TestCard:
    """Validate a typed card number; raise Stripe's card errors for bad or live numbers."""
    number = "".join(ch for ch in raw if not ch.isspace() and ch != "-")
    if not number:
        raise card_error("Your card number is incomplete.", "incomplete_number", None, "number")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
        raise INVALID_NUMBER.error()
    card = CARDS_BY_NUMBER.get(number)
    if card is None:
        raise NOT_TEST_CARD.error()
    return card
