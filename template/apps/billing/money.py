"""Money as people read it, in both billing modes: one place turns Stripe amounts into text.

Stripe sends amounts in the currency's minor unit, and the minor unit is not always a cent:
2900 is $29.00 but ¥2,900 (JPY is zero-decimal) and 2.900 BHD (three decimals). The exponent
follows Stripe's own currency table (not ISO 4217, which differs for a few currencies); the
symbol, separators and decimals shown follow the locale, through Babel's CLDR data.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency
from django.utils import formats, timezone, translation

__all__ = [
    "describe_price",
    "format_day",
    "format_interval",
    "format_money",
    "format_price",
    "minor_unit_exponent",
    "to_major_units",
]

#: Stripe's zero-decimal currencies: an amount of 2900 means 2,900 of the currency.
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
#: Stripe's three-decimal currencies: an amount of 2900 means 2.900 of the currency.
THREE_DECIMAL_CURRENCIES = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def minor_unit_exponent(currency: str) -> int:
    """How many decimals Stripe's integer amounts carry for `currency` (2 for most)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def to_major_units(amount: int | str | Decimal, currency: str) -> Decimal:
    """A Stripe amount (minor units, exact; `unit_amount_decimal` strings too) in major units."""
    return Decimal(str(amount)).scaleb(-minor_unit_exponent(currency))


def _locale() -> str:
    return translation.to_locale(translation.get_language() or "en-us")


def format_money(amount: int | str | Decimal | None, currency: str) -> str:
    """'$29.00' for (2900, 'usd'), '¥2,900' for (2900, 'jpy'); '' when there is no amount.

    Fractions of a minor unit (a metered price of 0.1¢) are shown, never rounded away.
    """
    if amount is None or amount == "" or not currency:
        return ""
    value = to_major_units(amount, currency)
    return format_currency(
        value, currency.upper(), locale=_locale(), decimal_quantization=False
    ).replace("\xa0", " ")


def format_interval(interval: str | None, interval_count: int | None = 1) -> str:
    """'month' → 'month', ('month', 3) → '3 months'; '' for a one-off price."""
    if not interval:
        return ""
    count = int(interval_count or 1)
    return interval if count == 1 else f"{count} {interval}s"


def format_price(
    amount: int | str | Decimal | None,
    currency: str,
    interval: str | None = None,
    interval_count: int | None = 1,
    *,
    per_unit: bool = False,
) -> str:
    """'$29.00/month', '¥2,900/year', '$0.001 per unit/month': a price with its interval."""
    money = format_money(amount, currency)
    if not money:
        return ""
    if per_unit:
        money = f"{money} per unit"
    period = format_interval(interval, interval_count)
    return f"{money}/{period}" if period else money


def describe_price(price: Any, default_currency: str = "") -> str:
    """'$29.00/month' for a price as any billing code holds it: a Stripe price object or dict,
    a dj-stripe Price, a basic-mode plan price, or a plan dict whose `price` is in major units
    (monthly unless it says otherwise). A metered price reads as a per-unit price; '' for none.
    """
    if price is None:
        return ""
    get = price.get if isinstance(price, dict) else (lambda name: getattr(price, name, None))
    recurring = get("recurring") or {}
    interval = get("interval") or recurring.get("interval")
    amount = get("unit_amount")
    if amount is None:
        amount = get("unit_amount_decimal")
    currency = str(get("currency") or "")
    if amount is None and get("price") is not None:
        currency = currency or default_currency
        amount = Decimal(str(get("price"))).scaleb(minor_unit_exponent(currency))
        interval = interval or "month"
    try:
        return format_price(
            amount,
            currency,
            interval,
            recurring.get("interval_count") or get("interval_count") or 1,
            per_unit=recurring.get("usage_type") == "metered",
        )
    except (InvalidOperation, TypeError, ValueError):
        return ""


def format_day(value: Any) -> str:
    """'December 3, 2026' (the project's DATE_FORMAT, config/formats) for a date or datetime,
    in the current time zone; '' for no date."""
    if not value or not hasattr(value, "year"):
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATE_FORMAT")
