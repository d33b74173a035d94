from __future__ import annotations

# Calendar arithmetic for billing periods, and display formatting.
import calendar
from datetime import UTC, datetime, timedelta

DAY = 86400

_ZERO_DECIMAL = frozenset(
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
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "inr": "₹"}


def add_interval(ts: int, interval: str, count: int = 1, anchor_day: int | None = None) -> int:
    """``ts`` plus ``count`` intervals; month/year keep ``anchor_day`` clamped to month end."""
    dt = datetime.fromtimestamp(ts, UTC)
    if interval == "day":
        return int((dt + timedelta(days=count)).timestamp())
    if interval == "week":
        return int((dt + timedelta(weeks=count)).timestamp())
    months = count * (12 if interval == "year" else 1)
    if interval not in ("month", "year"):
        raise ValueError(f"bad interval {interval}")
    total = dt.month - 1 + months
    year, month = dt.year + total // 12, total % 12 + 1
    day = min(anchor_day or dt.day, calendar.monthrange(year, month)[1])
    return int(dt.replace(year=year, month=month, day=day).timestamp())


def day_of(ts: int) -> int:
    return datetime.fromtimestamp(ts, UTC).day


def fmt_date(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%-d %b %Y")


def fmt_money(amount: int | float, currency: str) -> str:
    cur = currency.lower()
    value = amount if cur in _ZERO_DECIMAL else amount / 100
    decimals = 0 if cur in _ZERO_DECIMAL else 2
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.{decimals}f}"
    symbol = _SYMBOLS.get(cur)
    if symbol:
        return f"{sign}{symbol}{text}"
    return f"{sign}{text} {cur.upper()}"


def fmt_interval(interval: str, count: int) -> str:
    return interval if count == 1 else f"{count} {interval}s"
