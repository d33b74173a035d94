"""Template helpers: {% load billing_tags %}."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()


@register.filter
def divide(value: Any, divisor: Any) -> Decimal | str:
    """{{ 2900|divide:100 }} → 29; amounts stay exact (Decimal). Bad input renders empty."""
    try:
        result = Decimal(str(value)) / Decimal(str(divisor))
    except (InvalidOperation, ZeroDivisionError, TypeError, ValueError):
        return ""
    return result.quantize(Decimal(1)) if result == result.to_integral() else result


@register.filter
def label(value: Any) -> str:
    """{{ 'api_calls'|label }} → 'API calls': a setting key as people read it."""
    words = str(value).replace("_", " ").replace("-", " ").split()
    if not words:
        return ""
    acronyms = {"api", "gb", "sso", "url", "sla"}
    out = [w.upper() if w.lower() in acronyms else w.lower() for w in words]
    out[0] = out[0] if out[0].isupper() else out[0].capitalize()
    return " ".join(out)
