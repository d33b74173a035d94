"""Closing an account: its billing stops at Stripe first, then its rows go.

Deleting a user row alone would leave their Stripe subscription running and charging. So an
account is closed in two steps: the user is deactivated and flagged (`closing_since`), the
billing is ended at Stripe (every live subscription canceled at once, the customer deleted),
and only then is the user deleted. If Stripe cannot be reached, the user stays flagged and
inactive (they cannot log in) and `manage.py accounts_close_pending` finishes the job later.
"""

from __future__ import annotations

import logging

import stripe
from django.db import transaction
from django.utils import timezone

from apps.billing.errors import StripeNotConfiguredError
from apps.billing.services import close_billing_account

from .models import User

logger = logging.getLogger(__name__)


def close_account(user: User) -> bool:
    """Stop the user's billing at Stripe, then delete the user. True when deleted now.

    False when Stripe could not confirm: the user stays flagged and inactive for a retry.
    """
    if user.closing_since is None or user.is_active:
        user.closing_since = user.closing_since or timezone.now()
        user.is_active = False
        user.save(update_fields=["closing_since", "is_active"])
    try:
        close_billing_account(user=user)
    except (stripe.StripeError, StripeNotConfiguredError) as exc:
        logger.warning("Account %s is closing; Stripe billing not ended yet: %s", user.pk, exc)
        return False
    with transaction.atomic():
        user.delete()
    logger.info("Account closed and its Stripe billing ended")
    return True


def close_pending_accounts() -> tuple[int, int]:
    """Retry every account still closing; (closed, still pending)."""
    closed = pending = 0
    for user in User.objects.filter(closing_since__isnull=False).order_by("closing_since"):
        if close_account(user):
            closed += 1
        else:
            pending += 1
    return closed, pending
