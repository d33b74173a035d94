"""The Stripe webhook endpoint (basic mode): POST /billing/webhook/. The work is in `webhooks`."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import webhooks

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = webhooks.handle_webhook(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except webhooks.WebhookRejectedError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except webhooks.WebhookNotConfiguredError as exc:
        logger.error("%s", exc)
        return JsonResponse({"error": str(exc)}, status=503)
    except webhooks.EventProcessingError as exc:
        return JsonResponse(
            {"error": "processing_failed", "event": exc.event.stripe_event_id}, status=500
        )
    return JsonResponse({"id": event.stripe_event_id, "status": event.status})
