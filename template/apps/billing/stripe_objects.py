"""Reading Stripe objects as webhooks deliver them (plain dicts), in both billing modes."""

from __future__ import annotations

from typing import Any


def object_id(value: Any) -> str:
    """The id of a Stripe reference that may be an id string or an expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def invoice_subscription_id(invoice: dict[str, Any]) -> str:
    """The invoice's subscription: `parent.subscription_details` (API 2025-03-31 and later),
    else the top-level `subscription` of older API versions."""
    parent = invoice.get("parent") or {}
    details = (parent.get("subscription_details") or {}) if isinstance(parent, dict) else {}
    return object_id(details.get("subscription") or invoice.get("subscription"))
