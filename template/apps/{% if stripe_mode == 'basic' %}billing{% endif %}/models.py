"""Billing state mirrored from Stripe (basic mode).

Stripe is the source of truth. These rows are written by the webhook handlers in
`apps.billing.webhook_handlers` and read by the rest of the project through
`apps.billing.utils`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from .plans import Plan

#: Subscription statuses that grant access to paid features.
ACTIVE_STATUSES = ("active", "trialing")
#: Statuses a subscription never leaves (Stripe cannot reactivate them).
TERMINAL_STATUSES = ("canceled", "incomplete_expired")
#: Among subscription events created in the same second, a later lifecycle step wins (types
#: not listed rank 1).
EVENT_RANK = {
    "customer.subscription.created": 0,
    "customer.subscription.updated": 1,
    "customer.subscription.deleted": 2,
}


class StripeCustomer(models.Model):
    """Links Django user to Stripe customer."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stripe_customer"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.stripe_customer_id} ({self.user})"


class Subscription(models.Model):
    """Tracks user subscriptions."""

    customer = models.ForeignKey(
        StripeCustomer, on_delete=models.CASCADE, related_name="subscriptions"
    )
    stripe_subscription_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=20, db_index=True)  # active, canceled, past_due, trialing
    plan_name = models.CharField(max_length=100, blank=True)
    price_id = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    cancel_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    # `created` of the newest Stripe event applied to this row: older events never overwrite it.
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_event_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def plan(self) -> Plan | None:
        """The configured plan of this subscription: by its price, else by its plan name."""
        from .plans import get_plan_by_name, get_plan_by_price_id

        return get_plan_by_price_id(self.price_id) or get_plan_by_name(self.plan_name)


class WebhookEvent(models.Model):
    """Every Stripe event received, stored once by its id, with what became of it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        DEFERRED = "deferred", "Deferred (waiting for its customer)"
        FAILED = "failed", "Failed (Stripe will retry)"
        IGNORED = "ignored", "Ignored"

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    api_version = models.CharField(max_length=50, blank=True)
    livemode = models.BooleanField(default=False)
    created = models.DateTimeField(help_text="When Stripe created the event.")
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id} ({self.status})"
