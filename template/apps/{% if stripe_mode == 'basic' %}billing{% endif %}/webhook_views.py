"""The Stripe webhook endpoint (basic mode): POST /billing/webhook/. The work is in `webhooks`
(verify, store once) and `tasks` (queued in batches, applied by a worker)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import tasks, webhooks
from .middleware import stripe_webhook
from .reconnect import retry_on_dropped_connection

logger = logging.getLogger(__name__)


@stripe_webhook
@transaction.non_atomic_requests
@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    try:
        receipt = retry_on_dropped_connection(
            lambda: webhooks.handle_webhook(
                payload=request.body, signature=request.headers.get("Stripe-Signature")
            )
        )
    except webhooks.WebhookRejectedError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except webhooks.WebhookNotConfiguredError as exc:
        logger.error("%s", exc)
        return JsonResponse({"error": str(exc)}, status=503)
    if receipt.needs_processing:
        tasks.queue_webhook_event(receipt.pk)
    return JsonResponse({"id": receipt.event_id, "status": receipt.status})
