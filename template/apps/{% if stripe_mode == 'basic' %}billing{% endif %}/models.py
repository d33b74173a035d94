"""Billing state mirrored from Stripe (basic mode).

Stripe is the source of truth. These rows are written by the webhook handlers in
`apps.billing.webhook_handlers` (and by the success page, through the same code) and read by
the rest of the project through `apps.billing.selectors` and `apps.billing.utils`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from .emails import BillingEmail  # noqa: F401  (the shared model, registered in this app)
from .lifecycle import access_statuses

if TYPE_CHECKING:
    from .plans import Plan

#: `last_event_type` of a state read from Stripe's API (the success page, account closing)
#: rather than delivered by a webhook.
READ_FROM_API = "api.read"
#: `last_event_type` of a state Stripe returned for a change made in the app (a plan change,
#: a cancellation, a resume): it is as new as an update of the same second, so the page shows
#: the change at once, before its webhook (which then applies the same state).
CHANGED_IN_APP = "api.changed"
#: Among subscription states of the same second, a later lifecycle step wins; types not listed
#: rank as `updated`. A state read from the API (after Stripe created it) beats a `created` event
#: of that second: Checkout creates a subscription `incomplete` and activates it within the same
#: second, and the customer back on the success page must see it active.
EVENT_RANK = {
    "customer.subscription.created": 0,
    READ_FROM_API: 1,
    "customer.subscription.updated": 2,
    CHANGED_IN_APP: 2,
    "customer.subscription.deleted": 3,
}
DEFAULT_EVENT_RANK = EVENT_RANK["customer.subscription.updated"]


class StripeCustomer(models.Model):
    """Links Django user to Stripe customer.

    A customer Stripe no longer has (deleted in the dashboard, or by closing the account) is
    unlinked, not removed: `user` becomes empty and `former_user` keeps who it was, so its
    subscriptions stay on record, its late events still find it, and the user can start over
    with a new customer.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="stripe_customer",
        null=True,
        blank=True,
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    former_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="former_stripe_customers",
        null=True,
        blank=True,
        help_text="The user this customer belonged to before it was unlinked.",
    )
    unlinked_at = models.DateTimeField(
        null=True, blank=True, help_text="When Stripe said this customer no longer exists."
    )
    # A team pays as its own customer (user empty), so its owners can change without
    # touching billing (see `team_billing`).
    team = models.OneToOneField(
        "teams.Team",
        on_delete=models.SET_NULL,
        related_name="stripe_customer",
        null=True,
        blank=True,
        help_text="The team this customer pays for (a team plan), if any.",
    )

    def __str__(self) -> str:
        owner = self.user if self.user_id else (self.team if self.team_id else "unlinked")
        return f"{self.stripe_customer_id} ({owner})"


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
    # The newest paid invoice: a renewal starts its period once, whether `invoice.paid` or
    # `invoice.payment_succeeded` (not sent for invoices paid out of band) arrives first.
    last_paid_invoice_id = models.CharField(max_length=255, blank=True)
    last_paid_invoice_at = models.DateTimeField(
        null=True, blank=True, help_text="When Stripe created the newest paid period invoice."
    )
    # `created` of the newest Stripe event applied to this row: older events never overwrite it.
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_event_type = models.CharField(max_length=100, blank=True)
    # Its id (empty for a state read from the API): orders two events of the same second.
    last_event_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        """True while this subscription grants access (see `lifecycle.access_statuses`)."""
        return self.status in access_statuses()

    @property
    def plan(self) -> Plan | None:
        """The configured plan of this subscription: by its price, else by its plan name."""
        from .plans import get_plan_by_name, get_plan_by_price_id

        return get_plan_by_price_id(self.price_id) or get_plan_by_name(self.plan_name)


#: Statuses of a subscription schedule that may still change its subscription.
OPEN_SCHEDULE_STATUSES = ("not_started", "active")


class SubscriptionSchedule(models.Model):
    """A Stripe subscription schedule: a plan change waiting for the end of a period.

    Written by the subscription_schedule.* webhooks (and by the change-plan page from Stripe's
    answer), newest state first; only what the billing page shows is kept: the plan of the
    next phase and when it starts.
    """

    stripe_schedule_id = models.CharField(max_length=255, unique=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    status = models.CharField(max_length=20)  # not_started, active, completed, released, ...
    next_price_id = models.CharField(max_length=255, blank=True)
    next_phase_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next phase (the new plan) starts."
    )
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_event_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.stripe_schedule_id} ({self.status})"


class WebhookEvent(models.Model):
    """Every Stripe event received, stored once by its id, with what became of it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        DEFERRED = "deferred", "Deferred (waiting for its customer)"
        FAILED = "failed", "Failed (retried with backoff, then left for staff)"
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
