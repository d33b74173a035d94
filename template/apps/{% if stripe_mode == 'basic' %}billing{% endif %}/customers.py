"""The link between a user and their Stripe customer (basic mode): made once, undone when Stripe
no longer has the customer. Used by the webhook handlers and by `services`."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import StripeCustomer

logger = logging.getLogger(__name__)


def link_customer(*, user: Any, stripe_customer_id: str) -> StripeCustomer:
    """Link a Stripe customer to a user (idempotent; the first link of a user is kept).

    A customer that was unlinked (Stripe deleted it) stays unlinked: its row is returned as is.
    """
    existing = StripeCustomer.objects.filter(user=user).first()
    if existing is not None:
        if existing.stripe_customer_id != stripe_customer_id:
            logger.warning(
                "User %s already has Stripe customer %s; not relinking to %s",
                user.pk,
                existing.stripe_customer_id,
                stripe_customer_id,
            )
        return existing
    try:
        with transaction.atomic():
            return StripeCustomer.objects.create(user=user, stripe_customer_id=stripe_customer_id)
    except IntegrityError:  # linked concurrently: to this user, or this customer to a row
        found = StripeCustomer.objects.filter(user=user).first()
        return found or StripeCustomer.objects.get(stripe_customer_id=stripe_customer_id)


def unlink_customer(
    stripe_customer_id: str, *, at: datetime | None = None
) -> StripeCustomer | None:
    """Unlink a customer Stripe no longer has, so its user can start over with a new one.

    The row stays (with `former_user` and `unlinked_at`): its subscriptions remain on record and
    events that still arrive for it are applied to them instead of waiting for a user. An
    unknown customer gets such an unlinked row too, for the same reason. Idempotent.
    """
    if not stripe_customer_id:
        return None
    when = at or timezone.now()
    with transaction.atomic():
        # get_or_create retries the read when a concurrent unlink created the row first.
        row, created = StripeCustomer.objects.select_for_update().get_or_create(
            stripe_customer_id=stripe_customer_id, defaults={"unlinked_at": when}
        )
        if created:
            return row
        if row.user_id is not None:
            logger.info(
                "Unlinked Stripe customer %s from user %s", row.stripe_customer_id, row.user_id
            )
            row.former_user_id = row.user_id
            row.user = None
        if row.unlinked_at is None:
            row.unlinked_at = when
        row.save(update_fields=["user", "former_user", "unlinked_at"])
        return row
