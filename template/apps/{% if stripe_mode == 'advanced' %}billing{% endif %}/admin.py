"""Admin for the project's billing models (dj-stripe registers its own Stripe objects, shown
here without the Stripe secret key).

Stripe events that failed are under Billing → Webhook events (filter "Failed"), with their
error; dj-stripe's Webhook event triggers keep each one's body and traceback. Both lists have
"Process again", which queues the selected events for a worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import djstripe.admin  # noqa: F401  (registers dj-stripe's admins before they are wrapped below)
from django.contrib import admin, messages
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest
from djstripe.models import Subscription as StripeSubscription
from djstripe.models import WebhookEventTrigger

from . import email_admin  # noqa: F401  (registers BillingEmail's admin)
from .lifecycle import UNENDED_STATUSES
from .metering import send_report
from .models import (
    IgnoredEvent,
    MeterReport,
    PlanConfiguration,
    SubscriptionMetadata,
    TeamCustomer,
    UsageCounter,
    UsageRecord,
    WebhookEvent,
)
from .tasks import requeue_webhook_events


@admin.register(PlanConfiguration)
class PlanConfigurationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "stripe_product",
        "stripe_price",
        "is_popular",
        "per_seat",
        "is_metered",
    ]
    list_editable = ["is_popular"]
    search_fields = ["name", "slug", "stripe_product__id", "stripe_price__id"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["stripe_product", "stripe_price", "metered_price"]
    actions = ["apply_to_subscriptions"]

    @admin.display(boolean=True)
    def is_metered(self, obj: PlanConfiguration) -> bool:
        return obj.is_metered

    @admin.action(description="Copy features and limits to the plan's current subscriptions")
    def apply_to_subscriptions(
        self, request: HttpRequest, queryset: QuerySet[PlanConfiguration]
    ) -> None:
        updated = 0
        for plan in queryset:
            updated += SubscriptionMetadata.objects.filter(plan=plan).update(
                features=plan.features, usage_limits=plan.limits
            )
        self.message_user(request, f"{updated} subscriptions updated.", messages.INFO)


@admin.register(TeamCustomer)
class TeamCustomerAdmin(admin.ModelAdmin):
    list_display = ["team", "customer", "created_at"]
    search_fields = ["team__name", "customer__id"]
    raw_id_fields = ["team", "customer"]


@admin.register(SubscriptionMetadata)
class SubscriptionMetadataAdmin(admin.ModelAdmin):
    list_display = ["subscription", "plan", "usage_period_start", "updated_at"]
    list_filter = ["plan"]
    search_fields = ["subscription__id", "subscription__customer__id"]
    raw_id_fields = ["subscription"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(UsageCounter)
class UsageCounterAdmin(admin.ModelAdmin):
    list_display = ["subscription", "metric", "period_start", "count", "updated_at"]
    list_filter = ["metric"]
    search_fields = ["subscription__id"]
    readonly_fields = [field.name for field in UsageCounter._meta.fields]


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ["subscription", "metric", "quantity", "timestamp", "meter_event_name", "report"]
    list_filter = ["metric"]
    search_fields = ["subscription__id", "stripe_customer_id"]
    readonly_fields = [field.name for field in UsageRecord._meta.fields]


@admin.register(MeterReport)
class MeterReportAdmin(admin.ModelAdmin):
    list_display = [
        "identifier",
        "event_name",
        "stripe_customer_id",
        "value",
        "sent_at",
        "attempts",
    ]
    list_filter = ["event_name", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["identifier", "stripe_customer_id"]
    readonly_fields = [field.name for field in MeterReport._meta.fields]
    actions = ["send_now"]

    @admin.action(description="Send the selected unsent reports to Stripe now")
    def send_now(self, request: HttpRequest, queryset: QuerySet[MeterReport]) -> None:
        results = [send_report(pk) for pk in queryset.values_list("pk", flat=True)]
        self.message_user(request, f"{results.count(True)} of {len(results)} sent.")


@admin.register(IgnoredEvent)
class IgnoredEventAdmin(admin.ModelAdmin):
    list_display = ["stripe_event_id", "type", "livemode", "received_at"]
    list_filter = ["livemode", "type"]
    search_fields = ["stripe_event_id"]
    readonly_fields = [field.name for field in IgnoredEvent._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = [
        "stripe_event_id",
        "type",
        "status",
        "attempts",
        "received_at",
        "processed_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "type"]
    search_fields = ["stripe_event_id"]
    readonly_fields = [field.name for field in WebhookEvent._meta.fields]
    actions = ["process_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events arrive from Stripe only

    @admin.action(description="Process again (queued for a worker)")
    def process_again(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        queued = requeue_webhook_events(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{queued} events queued; events already done are skipped.")


@admin.action(description="Process again (queued for a worker)")
def process_triggers_again(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[WebhookEventTrigger]
) -> None:
    """dj-stripe's delivery log: queue the stored events of the selected deliveries."""
    events = WebhookEvent.objects.filter(trigger__in=queryset).values_list("pk", flat=True)
    queued = requeue_webhook_events(list(events))
    model_admin.message_user(request, f"{queued} events queued; events already done are skipped.")


def add_process_again_to_triggers() -> None:
    """Give dj-stripe's WebhookEventTrigger admin the action (set on its class, like the filter
    below, so it stays when the class is registered again without secrets)."""
    admin_class = type(admin.site.get_model_admin(WebhookEventTrigger))
    actions = list(admin_class.actions or [])
    if process_triggers_again not in actions:
        admin_class.actions = [*actions, process_triggers_again]


add_process_again_to_triggers()


class SeveralLiveSubscriptionsFilter(admin.SimpleListFilter):
    """dj-stripe's Subscriptions list, narrowed to the live subscriptions of customers (or
    users) that have more than one: Stripe bills each of them, nothing cancels one
    automatically, and staff decide which to keep."""

    title = "live subscriptions"
    parameter_name = "live_subscriptions"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("several", "Customers with more than one live subscription")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[StripeSubscription]
    ) -> QuerySet[StripeSubscription]:
        if self.value() != "several":
            return queryset
        live = StripeSubscription.objects.filter(stripe_data__status__in=UNENDED_STATUSES)
        customers = (
            live.values("customer_id").annotate(n=Count("pk")).filter(n__gt=1).values("customer_id")
        )
        users = (
            live.filter(customer__subscriber__isnull=False)
            .values("customer__subscriber")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .values("customer__subscriber")
        )
        return queryset.filter(stripe_data__status__in=UNENDED_STATUSES).filter(
            Q(customer_id__in=customers) | Q(customer__subscriber__in=users)
        )


def add_several_live_subscriptions_filter() -> None:
    """Add the filter to dj-stripe's own Subscription admin (registered before this app's).

    Set on the admin's class, not its instance, so it stays when that admin is registered
    again by a subclass of its class (as hiding the secret key does)."""
    admin_class = type(admin.site.get_model_admin(StripeSubscription))
    if SeveralLiveSubscriptionsFilter not in admin_class.list_filter:
        admin_class.list_filter = (*admin_class.list_filter, SeveralLiveSubscriptionsFilter)


add_several_live_subscriptions_filter()


# --- dj-stripe's admins, without the secret key -------------------------------------------------

#: Attributes of dj-stripe's models that hold a Stripe secret key. dj-stripe's StripeModelAdmin
#: shows every property of a model read-only on its change page, and `default_api_key` (the
#: secret key in use) is one: any staff member with a view permission would read it.
SECRET_FIELDS = frozenset({"default_api_key"})


def _without_secrets(names: Sequence[Any]) -> list[Any]:
    """Field names (a tuple is one line of several fields) minus SECRET_FIELDS."""
    kept: list[Any] = []
    for name in names:
        if isinstance(name, list | tuple):
            line = _without_secrets(name)
            if line:
                kept.append(tuple(line))
        elif name not in SECRET_FIELDS:
            kept.append(name)
    return kept


class HideSecretsAdminMixin(admin.ModelAdmin):
    """Removes SECRET_FIELDS from everything a change page or a list shows."""

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Sequence[Any]:
        return _without_secrets(super().get_fields(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Sequence[Any]:
        return _without_secrets(super().get_readonly_fields(request, obj))

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return [
            (title, {**options, "fields": _without_secrets(options.get("fields", ()))})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def get_list_display(self, request: HttpRequest) -> Sequence[Any]:
        return _without_secrets(super().get_list_display(request))


def hide_secrets_in_djstripe_admins(site: admin.AdminSite = admin.site) -> None:
    """Register every dj-stripe admin again with HideSecretsAdminMixin in front of it."""
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label != "djstripe" or isinstance(model_admin, HideSecretsAdminMixin):
            continue
        admin_class = type(model_admin)
        wrapped = type(admin_class.__name__, (HideSecretsAdminMixin, admin_class), {})
        site.unregister(model)
        site.register(model, wrapped)


hide_secrets_in_djstripe_admins()
