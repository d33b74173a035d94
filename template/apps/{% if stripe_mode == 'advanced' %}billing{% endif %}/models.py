"""Billing models (advanced mode).

dj-stripe mirrors Stripe's objects (`djstripe.models`: Customer, Subscription, Product, Price,
Invoice, Event, ...). The models here add what Stripe does not know: which products are plans
and what they include (`PlanConfiguration`), each subscription's entitlements and usage period
(`SubscriptionMetadata`), usage counters, and the outboxes of work that must reach Stripe or a
customer exactly once (`UsageRecord` → `MeterReport`; billing emails are the shared
`BillingEmail`), the Stripe events received at the webhook, stored once each and applied by a
worker (`WebhookEvent`), and those the project chose not to apply (`IgnoredEvent`).

Foreign keys to dj-stripe models point at the Stripe id (`to_field="id"`, as
DJSTRIPE_FOREIGN_KEY_TO_FIELD does), so `subscription_id == "sub_..."`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from djstripe.models import Customer, Price, Product, WebhookEventTrigger
from djstripe.models import Subscription as StripeSubscription

from .emails import BillingEmail  # noqa: F401  (registers the shared model in this app)
from .lifecycle import access_statuses


def _to_datetime(timestamp: Any) -> datetime | None:
    if timestamp in (None, ""):
        return None
    return datetime.fromtimestamp(int(timestamp), tz=UTC)


def subscription_items(subscription: StripeSubscription) -> list[dict[str, Any]]:
    """The items of a synced subscription, as Stripe sent them."""
    items = (subscription.stripe_data or {}).get("items") or {}
    data = items.get("data") if isinstance(items, dict) else None
    return [item for item in data or [] if isinstance(item, dict)]


def subscription_period(subscription: StripeSubscription, key: str) -> datetime | None:
    """`current_period_start`/`_end` of a subscription: from its items since API 2025-03-31
    (the earliest start, the latest end), else from the subscription (older versions)."""
    pick = min if key == "current_period_start" else max
    values = [item[key] for item in subscription_items(subscription) if item.get(key) is not None]
    if values:
        return _to_datetime(pick(values))
    return _to_datetime((subscription.stripe_data or {}).get(key))


def subscription_price_ids(subscription: StripeSubscription) -> list[str]:
    ids = []
    for item in subscription_items(subscription):
        price = item.get("price")
        price_id = price.get("id") if isinstance(price, dict) else price
        if price_id:
            ids.append(str(price_id))
    return ids


class PlanConfiguration(models.Model):
    """Configure subscription plans."""

    stripe_product = models.OneToOneField(
        Product, to_field="id", on_delete=models.CASCADE, related_name="plan_configuration"
    )
    stripe_price = models.ForeignKey(
        Price,
        to_field="id",
        on_delete=models.CASCADE,
        related_name="plan_configurations",
        help_text="The recurring price customers subscribe to at checkout.",
    )
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    features = models.JSONField(default=dict, blank=True)
    limits = models.JSONField(
        default=dict,
        blank=True,
        help_text='Usage limits per billing period, e.g. {"api_calls": 10000}. A metric that '
        "is not listed is not included in the plan; null means unlimited.",
    )
    is_popular = models.BooleanField(default=False)
    per_seat = models.BooleanField(
        default=False,
        help_text="A team plan billed per member: its quantity follows the member count.",
    )
    # Usage-based billing: usage of `metered_metric` is reported to the Billing Meter of
    # `metered_price` (a price with recurring.usage_type=metered and recurring.meter).
    metered_price = models.ForeignKey(
        Price,
        to_field="id",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Metered price added to checkout; its meter is billed for metered_metric.",
    )
    metered_metric = models.CharField(
        max_length=100, blank=True, help_text="The metric reported to Stripe, e.g. api_calls."
    )
    meter_event_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="event_name of the Billing Meter of metered_price (a sum meter).",
    )
    display_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_order", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def product(self) -> Product:
        return self.stripe_product

    @property
    def price_id(self) -> str:
        """The Stripe Price id sold at checkout (basic mode's plans have the same name)."""
        return str(self.stripe_price_id)

    @property
    def is_metered(self) -> bool:
        return bool(self.metered_price_id and self.metered_metric and self.meter_event_name)

    @classmethod
    def for_subscription(cls, subscription: StripeSubscription) -> PlanConfiguration | None:
        """The plan of the first of the subscription's prices that is configured."""
        ids = subscription_price_ids(subscription)
        configs = {
            plan.stripe_price_id: plan for plan in cls.objects.filter(stripe_price_id__in=ids)
        }
        return next((configs[price_id] for price_id in ids if price_id in configs), None)


class Subscription(StripeSubscription):
    """dj-stripe's Subscription, read the way today's Stripe API shapes it.

    Since API 2025-03-31 the billing period lives on the subscription items, and `plan` is
    gone: dj-stripe 2.11 still reads both from the subscription, so `current_period_end` is
    None and `is_valid()` raises TypeError there. This proxy (same table, no copy) reads the
    items instead; `plan` is the subscribed Price (`plan.product.name` works again).
    """

    class Meta:
        proxy = True

    @property
    def current_period_start(self) -> datetime | None:  # type: ignore[override]
        return subscription_period(self, "current_period_start")

    @property
    def current_period_end(self) -> datetime | None:  # type: ignore[override]
        return subscription_period(self, "current_period_end")

    @property
    def price_ids(self) -> list[str]:
        return subscription_price_ids(self)

    @property
    def plan_configuration(self) -> PlanConfiguration | None:
        """The configured plan this subscription pays for (None if no price is configured)."""
        if "_plan_configuration" not in self.__dict__:
            self.__dict__["_plan_configuration"] = PlanConfiguration.for_subscription(self)
        return self.__dict__["_plan_configuration"]

    @property
    def plan(self) -> Price | None:  # type: ignore[override]
        """The subscribed Price (Prices replaced Plans): the configured one, else the first."""
        config = self.plan_configuration
        if config is not None:
            return config.stripe_price
        ids = self.price_ids
        return Price.objects.select_related("product").filter(id__in=ids[:1]).first()

    @property
    def plan_name(self) -> str:
        config = self.plan_configuration
        if config is not None:
            return config.name
        price = self.plan
        return price.product.name if price is not None and price.product else ""

    @property
    def is_active(self) -> bool:
        """True while this subscription grants access (see `access_statuses`)."""
        return self.status in access_statuses()


class TeamCustomer(models.Model):
    """The Stripe customer a team pays as. dj-stripe links a Customer to one `subscriber` (a
    user); a team is billed as a customer of its own, linked here, so its owners can change
    without touching billing (see `team_billing`)."""

    team = models.OneToOneField(
        "teams.Team", on_delete=models.CASCADE, related_name="billing_customer"
    )
    customer = models.OneToOneField(
        Customer, to_field="id", on_delete=models.CASCADE, related_name="team_link"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.customer_id} pays for {self.team}"


class SubscriptionMetadata(models.Model):
    """Extended subscription data: the entitlements of one subscription and its usage period.

    Written by the webhook receivers (`apps.billing.webhooks`) from the plan's configuration
    when the subscription is created or changes plan; edit it in the admin to grant one
    customer more than their plan.
    """

    subscription = models.OneToOneField(
        StripeSubscription,
        to_field="id",
        on_delete=models.CASCADE,
        related_name="billing_metadata",  # dj-stripe's Subscription already has `metadata`
    )
    plan = models.ForeignKey(
        PlanConfiguration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    features = models.JSONField(default=dict, blank=True)
    usage_limits = models.JSONField(default=dict, blank=True)
    usage_period_start = models.DateTimeField(
        default=timezone.now,
        help_text="Usage counts from here; moves forward when a renewal invoice is paid.",
    )
    access_revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "subscription metadata"

    def __str__(self) -> str:
        return f"Metadata of {self.subscription_id}"

    @property
    def current_usage(self) -> dict[str, int]:
        """Usage per metric in the current period (read-only: counters are updated atomically)."""
        return dict(
            UsageCounter.objects.filter(
                subscription_id=self.subscription_id, period_start=self.usage_period_start
            ).values_list("metric", "count")
        )


class UsageCounter(models.Model):
    """The running total of one metric for one subscription and usage period.

    Incremented with a single conditional UPDATE (`count = count + q WHERE count + q <= limit`),
    so concurrent requests can never exceed a limit and no request reads or sums old records.
    """

    subscription = models.ForeignKey(
        StripeSubscription, to_field="id", on_delete=models.CASCADE, related_name="+"
    )
    metric = models.CharField(max_length=100)
    period_start = models.DateTimeField()
    count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "metric", "period_start"], name="billing_usage_counter_key"
            ),
            models.CheckConstraint(condition=Q(count__gte=0), name="billing_usage_count_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.metric}: {self.count}"


class MeterReport(models.Model):
    """One meter event sent (or to send) to a Stripe Billing Meter: the sum of some records.

    Its `identifier` is fixed before the first attempt, so a retry can never be counted twice
    (Stripe drops a meter event whose identifier it has already seen).
    """

    identifier = models.CharField(max_length=100, unique=True)
    event_name = models.CharField(max_length=100)
    stripe_customer_id = models.CharField(max_length=255)
    value = models.BigIntegerField()
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(sent_at__isnull=True),
                name="billing_meter_report_unsent",
            )
        ]

    def __str__(self) -> str:
        state = "sent" if self.sent_at else "pending"
        return f"{self.event_name} {self.value} for {self.stripe_customer_id} ({state})"


class UsageRecord(models.Model):
    """Track metered usage: one row per recorded use (an audit trail, never summed per request).

    Rows of metered plans (`meter_event_name` set) are also the outbox of usage to report to
    Stripe: `billing_flush_outbox` groups them into MeterReports.
    """

    subscription = models.ForeignKey(
        StripeSubscription, to_field="id", on_delete=models.CASCADE, related_name="usage_records"
    )
    metric = models.CharField(max_length=100)  # e.g., 'api_calls'
    quantity = models.PositiveIntegerField()
    timestamp = models.DateTimeField(auto_now_add=True)
    meter_event_name = models.CharField(max_length=100, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    report = models.ForeignKey(
        MeterReport, on_delete=models.PROTECT, null=True, blank=True, related_name="records"
    )

    class Meta:
        indexes = [
            models.Index(fields=["subscription", "metric", "timestamp"]),
            models.Index(
                fields=["id"],
                condition=Q(report__isnull=True) & ~Q(meter_event_name=""),
                name="billing_usage_unreported",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.metric} +{self.quantity}"


class IgnoredEvent(models.Model):
    """A signed Stripe event that was received and deliberately not applied, with the reason.

    An event of the other Stripe mode (a test-mode event while STRIPE_LIVE_MODE is on, or the
    reverse), or a change to a customer Stripe has deleted since, lands here instead of in
    dj-stripe's Event table: it changes no state, and staff can still see that it arrived and
    why nothing happened. Ignored by the webhook, nothing else of it is stored; ignored by the
    worker (the customer's deletion was applied after the change was stored), its
    `WebhookEvent` is marked ignored and its delivery stays in dj-stripe's log.
    """

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=250)
    livemode = models.BooleanField()
    reason = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id} (ignored)"


class WebhookEvent(models.Model):
    """A Stripe event received at a webhook route, stored once by its id, and what became of it.

    The webhook stores the event (this row and dj-stripe's delivery log, `trigger`, which
    holds the body) and answers; a worker then applies it through dj-stripe
    (`webhooks.apply_webhook_event`). The unique id is the duplicate check: a redelivery finds
    this row. A failed attempt keeps its error here and its traceback on the trigger; the
    task retries it with growing delays (`next_attempt_at`), then it waits for staff (admin:
    Webhook events, "Process again"). Never deleted by the project.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received (waiting for a worker)"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        IGNORED = "ignored", "Ignored"

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=250)
    trigger = models.OneToOneField(
        WebhookEventTrigger, on_delete=models.CASCADE, related_name="billing_event"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a worker is due to apply it: on arrival, or later after a failure. "
        "Empty when it is done, or when the automatic retries have given up.",
    )

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The periodic retry reads only the events that are not done.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["received", "failed"]),
                name="billing_webhook_event_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.PROCESSED, self.Status.IGNORED)
