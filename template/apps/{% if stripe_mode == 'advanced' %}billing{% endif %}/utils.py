"""The billing API the rest of the project uses (advanced mode, dj-stripe):

    from apps.billing.utils import (
        create_checkout_session, get_customer_portal_url, get_active_subscription,
        record_usage, check_usage_limit,
    )

Re-exports of `services` (writes), `selectors` (reads) and `usage` (usage counting).
"""

from __future__ import annotations

from .portal import get_customer_portal_url
from .selectors import get_active_subscription
from .services import create_checkout_session
from .usage import check_usage_limit, record_usage

__all__ = [
    "check_usage_limit",
    "create_checkout_session",
    "get_active_subscription",
    "get_customer_portal_url",
    "record_usage",
]
