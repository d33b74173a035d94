"""Periodic work of the accounts app (run by a Celery worker; scheduled by beat)."""

from __future__ import annotations

from celery import shared_task

from .services import close_pending_accounts


@shared_task
def close_pending_account_closures() -> tuple[int, int]:
    """Finish closing the accounts whose Stripe billing could not be ended at the time;
    (closed, still pending)."""
    return close_pending_accounts()
