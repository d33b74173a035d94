from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import User
from .services import close_account


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "date_joined", "closing_since"]
    list_filter = [*BaseUserAdmin.list_filter, ("closing_since", admin.EmptyFieldListFilter)]
    readonly_fields = ["closing_since"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined", "closing_since")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    # Deleting a user here ends their billing at Stripe first (see accounts.services): a user
    # whose Stripe billing cannot be ended yet stays, inactive and flagged, for a retry.
    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._close(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._close(request, list(queryset))

    def _close(self, request: HttpRequest, users: list[User]) -> None:
        pending = [user.email for user in users if not close_account(user)]
        if pending:
            self.message_user(
                request,
                "Stripe could not confirm the end of billing for "
                f"{', '.join(pending)}: deactivated and flagged; run accounts_close_pending "
                "(or delete again) to finish.",
                messages.WARNING,
            )
