"""The teams settings, read with a clear error when one is malformed."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

#: What Stripe may do when a per-seat subscription's quantity changes (its proration_behavior).
PRORATION_BEHAVIORS = ("create_prorations", "always_invoice", "none")


def seat_proration_behavior() -> str:
    """TEAMS_SEAT_PRORATION_BEHAVIOR: prorations on the next invoice by default."""
    value = getattr(settings, "TEAMS_SEAT_PRORATION_BEHAVIOR", "create_prorations")
    if value not in PRORATION_BEHAVIORS:
        raise ImproperlyConfigured(
            f"TEAMS_SEAT_PRORATION_BEHAVIOR must be one of {', '.join(PRORATION_BEHAVIORS)}, "
            f"got {value!r}."
        )
    return str(value)


def invitation_lifetime() -> timedelta:
    """TEAMS_INVITATION_DAYS: how long an invitation link works (7 days by default)."""
    days = getattr(settings, "TEAMS_INVITATION_DAYS", 7)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 90:
        raise ImproperlyConfigured(
            f"TEAMS_INVITATION_DAYS must be a whole number of days from 1 to 90, got {days!r}."
        )
    return timedelta(days=days)
