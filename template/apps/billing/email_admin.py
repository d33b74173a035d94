"""The admin of the billing emails, the same in both modes (imported by each mode's admin)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .emails import BillingEmail, send_email


@admin.register(BillingEmail)
class BillingEmailAdmin(admin.ModelAdmin):
    list_display = ["kind", "email", "subject", "attempts", "created_at", "sent_at"]
    list_filter = ["kind", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "stripe_event_id", "subject"]
    readonly_fields = [field.name for field in BillingEmail._meta.fields]
    actions = ["send_now"]

    @admin.action(description="Send the selected pending emails now")
    def send_now(self, request: HttpRequest, queryset: QuerySet[BillingEmail]) -> None:
        pending = queryset.filter(sent_at__isnull=True).order_by("created_at", "pk")
        ids = list(pending.values_list("pk", flat=True))
        sent = sum(send_email(pk) for pk in ids)
        self.message_user(request, f"{sent} of {len(ids)} emails sent.", messages.INFO)
