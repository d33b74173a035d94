from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from . import email_admin  # noqa: F401  (registers BillingEmail's admin)
from .lifecycle import UNENDED_STATUSES
from .models import StripeCustomer, Subscription, SubscriptionSchedule, WebhookEvent
from .tasks import queue_webhook_event


@admin.register(StripeCustomer)
class StripeCustomerAdmin(admin.ModelAdmin):
    list_display = [
        "stripe_customer_id",
        "user",
        "team",
        "former_user",
        "unlinked_at",
        "created_at",
    ]
    list_filter = [("unlinked_at", admin.EmptyFieldListFilter)]
    search_fields = ["stripe_customer_id", "user__email", "former_user__email", "team__name"]
    raw_id_fields = ["user", "former_user", "team"]


class SeveralLiveSubscriptionsFilter(admin.SimpleListFilter):
    """Subscriptions of customers with more than one subscription that has not ended: Stripe
    bills each of them, and nothing cancels the extra one automatically."""

    title = "live subscriptions"
    parameter_name = "several_live"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Customers with more than one live subscription")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> Any:
        if self.value() != "yes":
            return queryset
        live = Q(subscriptions__status__in=UNENDED_STATUSES)
        customers = StripeCustomer.objects.annotate(live=Count("subscriptions", filter=live))
        return queryset.filter(
            status__in=UNENDED_STATUSES,
            customer__in=customers.filter(live__gt=1).values("pk"),
        )


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "stripe_subscription_id",
        "customer",
        "plan_name",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "cancel_at",
    ]
    list_filter = [SeveralLiveSubscriptionsFilter, "status", "plan_name", "cancel_at_period_end"]
    search_fields = [
        "stripe_subscription_id",
        "customer__stripe_customer_id",
        "customer__user__email",
    ]
    raw_id_fields = ["customer"]
    readonly_fields = [
        "last_event_at",
        "last_event_type",
        "last_event_id",
        "created_at",
        "updated_at",
    ]


@admin.register(SubscriptionSchedule)
class SubscriptionScheduleAdmin(admin.ModelAdmin):
    """Plan changes waiting for a period end, as Stripe's webhooks reported them: read-only
    (change them at Stripe, or from the billing page)."""

    list_display = [
        "stripe_schedule_id",
        "stripe_subscription_id",
        "status",
        "next_price_id",
        "next_phase_at",
    ]
    list_filter = ["status"]
    search_fields = ["stripe_schedule_id", "stripe_subscription_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Every Stripe event received. A failed one shows its error here; once its task has given up
    retrying, staff apply it again with the action (after fixing what made it fail)."""

    list_display = [
        "stripe_event_id",
        "type",
        "status",
        "attempts",
        "short_error",
        "created",
        "received_at",
    ]
    list_filter = ["status", "type", "livemode"]
    search_fields = ["stripe_event_id", "stripe_customer_id"]
    readonly_fields = [field.name for field in WebhookEvent._meta.fields]
    actions = ["retry"]

    @admin.display(description="Last error")
    def short_error(self, event: WebhookEvent) -> str:
        return event.last_error[:120]

    @admin.action(description="Apply the selected failed or deferred events again")
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        rows = queryset.filter(
            status__in=[WebhookEvent.Status.FAILED, WebhookEvent.Status.DEFERRED]
        ).order_by("created", "pk")
        pks = list(rows.values_list("pk", flat=True))
        for event_pk in pks:
            queue_webhook_event(event_pk)
        self.message_user(request, f"{len(pks)} events queued to be applied again.", messages.INFO)
