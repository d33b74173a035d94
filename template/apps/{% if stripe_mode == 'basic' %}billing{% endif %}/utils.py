"""The billing API the rest of the project uses (basic mode):

    from apps.billing.utils import (
        create_checkout_session, get_customer_portal_url, get_active_subscription,
    )

Re-exports of `services` (writes) and `selectors` (reads).
"""

from __future__ import annotations

from .portal import get_customer_portal_url
from .selectors import get_active_subscription
from .services import create_checkout_session

__all__ = ["create_checkout_session", "get_active_subscription", "get_customer_portal_url"]
