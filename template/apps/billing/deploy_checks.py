"""Deployment checks (`manage.py check --deploy`) of the billing settings and the task queue,
in both modes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from .stripe_api import WEBHOOK_SECRET_SETTING


@register(Tags.security, deploy=True)
def check_stripe_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not settings.STRIPE_SECRET_KEY:
        messages.append(
            Warning(
                "STRIPE_SECRET_KEY is not set: checkout and the customer portal will not work.",
                id="billing.W001",
            )
        )
    if not getattr(settings, WEBHOOK_SECRET_SETTING):
        messages.append(
            Warning(
                f"{WEBHOOK_SECRET_SETTING} is not set: Stripe webhooks will be refused (503).",
                hint="Copy the signing secret (whsec_...) of your webhook endpoint.",
                id="billing.W002",
            )
        )
    return messages


@register(deploy=True)
def check_task_queue_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Without a broker every task runs in-process: in the web request that queued it."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    return [
        Warning(
            "CELERY_BROKER_URL is not set: webhook processing and emails run inside the web "
            "requests, and periodic tasks (usage reporting, reconciliation) never run.",
            hint="Set CELERY_BROKER_URL (redis://... or amqp://...) and run `celery -A config "
            "worker` and `celery -A config beat` beside the web processes.",
            id="billing.W003",
        )
    ]
