"""The Stripe webhook endpoint (advanced mode): POST /djstripe/webhook/. The work is in
`webhooks`."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from . import webhooks

logger = logging.getLogger(__name__)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class StripeWebhookView(View):
    """POST /djstripe/webhook/: Stripe events signed with DJSTRIPE_WEBHOOK_SECRET."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            return webhooks.process_webhook(request)
        except webhooks.WebhookRejectedError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        except webhooks.WebhookNotConfiguredError as exc:
            logger.error("%s", exc)
            return JsonResponse({"error": str(exc)}, status=503)
