from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import StripeCustomer, Subscription, WebhookEvent
from .webhooks import retry_events


@admin.register(StripeCustomer)
class StripeCustomerAdmin(admin.ModelAdmin):
    list_display = ["stripe_customer_id", "user", "created_at"]
    search_fields = ["stripe_customer_id", "user__email"]
    raw_id_fields = ["user"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "stripe_subscription_id",
        "customer",
        "plan_name",
        "status",
        "current_period_end",
        "cancel_at_period_end",
    ]
    list_filter = ["status", "plan_name", "cancel_at_period_end"]
    search_fields = [
        "stripe_subscription_id",
        "customer__stripe_customer_id",
        "customer__user__email",
    ]
    raw_id_fields = ["customer"]
    readonly_fields = ["last_event_at", "last_event_type", "created_at", "updated_at"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["stripe_event_id", "type", "status", "attempts", "created", "received_at"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_event_id", "stripe_customer_id"]
    readonly_fields = [field.name for field in WebhookEvent._meta.fields]
    actions = ["retry"]

    @admin.action(description="Apply the selected failed or deferred events again")
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        rows = queryset.filter(
            status__in=[WebhookEvent.Status.FAILED, WebhookEvent.Status.DEFERRED]
        ).order_by("created", "pk")
        results = retry_events(rows)
        done = sum(row.status == WebhookEvent.Status.PROCESSED for row in results)
        self.message_user(request, f"{done} of {len(results)} events applied.", messages.INFO)
