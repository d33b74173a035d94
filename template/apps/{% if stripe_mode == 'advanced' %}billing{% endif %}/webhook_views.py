"""The Stripe webhook endpoints (advanced mode): POST /djstripe/webhook/ and
/djstripe/webhook/<uuid>/. The work is in `webhooks`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from uuid import UUID

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from . import webhooks
from .middleware import stripe_webhook
from .reconnect import retry_on_dropped_connection

logger = logging.getLogger(__name__)


@method_decorator(stripe_webhook, name="dispatch")
@method_decorator(transaction.non_atomic_requests, name="dispatch")
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class WebhookView(View):
    """What both webhook routes share: POST only, no CSRF token or login, and the answers."""

    http_method_names = ["post"]

    @staticmethod
    def answer(process: Callable[[], HttpResponse]) -> HttpResponse:
        try:
            return retry_on_dropped_connection(process)
        except webhooks.WebhookRejectedError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        except Http404 as exc:  # JSON, as every answer here: no page template, no session
            return JsonResponse({"error": str(exc)}, status=404)
        except webhooks.WebhookNotConfiguredError as exc:
            logger.error("%s", exc)
            return JsonResponse({"error": str(exc)}, status=503)


class StripeWebhookView(WebhookView):
    """POST /djstripe/webhook/: Stripe events signed with DJSTRIPE_WEBHOOK_SECRET."""

    def post(self, request: HttpRequest) -> HttpResponse:
        return self.answer(lambda: webhooks.process_webhook(request))


class EndpointWebhookView(WebhookView):
    """POST /djstripe/webhook/<uuid>/: Stripe events signed with the secret of the webhook
    endpoint stored with that uuid (dj-stripe's route, verified before anything is stored)."""

    def post(self, request: HttpRequest, uuid: UUID) -> HttpResponse:
        return self.answer(lambda: webhooks.process_endpoint_webhook(request, uuid=uuid))
