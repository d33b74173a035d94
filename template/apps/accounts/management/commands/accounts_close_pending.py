"""Finish closing the accounts whose Stripe billing could not be ended at the time."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.accounts.services import close_pending_accounts


class Command(BaseCommand):
    help = "End the Stripe billing of accounts being closed, then delete them."

    def handle(self, *args: Any, **options: Any) -> None:
        closed, pending = close_pending_accounts()
        self.stdout.write(f"{closed} closed, {pending} still pending")
