"""Webhook intake (advanced mode): POST /djstripe/webhook/ (and /djstripe/webhook/<uuid>/ of
endpoints stored in the database), then dj-stripe.

The order is fixed: require the signature header and verify it against
DJSTRIPE_WEBHOOK_SECRET (at <uuid>: that endpoint's secret), check the body is a Stripe event,
then hand the request to dj-stripe, which records the delivery (WebhookEventTrigger), stores the
Event once by its id, syncs its object and sends the signals that `webhook_handlers` receives,
in one transaction. A failure answers 500 (the trigger keeps the traceback) and Stripe retries.

Two kinds of events are recorded as an `IgnoredEvent` with the reason, answered 200 so Stripe
stops sending them, and never reach dj-stripe, so they change nothing (`ignore_event`): an
event of the other Stripe mode than STRIPE_LIVE_MODE (a test-mode event reaching a live
project, or the reverse), and a change to a customer that Stripe has deleted since (dj-stripe
could not re-fetch it, and would fail it on every retry).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from djstripe.models import Customer, WebhookEndpoint
from djstripe.views import ProcessWebhookView

from .models import IgnoredEvent
from .stripe_api import livemode
from .webhook_json import InvalidJSONBodyError, parse_json_body

logger = logging.getLogger(__name__)


#: The local-only WebhookEndpoint row that carries DJSTRIPE_WEBHOOK_SECRET for dj-stripe
#: (dj-stripe reads webhook secrets from WebhookEndpoint rows only). Stripe never lists this
#: id, so `djstripe_sync_models WebhookEndpoint` leaves it alone.
ENV_ENDPOINT_ID = "we_settings_webhook_secret"


class WebhookRejectedError(Exception):
    """Not a request signed with DJSTRIPE_WEBHOOK_SECRET: answer 400, store nothing."""


class WebhookNotConfiguredError(Exception):
    """DJSTRIPE_WEBHOOK_SECRET is not set: answer 503 so Stripe retries later."""


def _endpoint_fields() -> dict[str, Any]:
    return {
        "secret": settings.DJSTRIPE_WEBHOOK_SECRET,
        "livemode": livemode(),
        "url": settings.SITE_URL.rstrip("/") + "/djstripe/webhook/",
        "enabled_events": ["*"],
        "status": "enabled",
        "api_version": settings.STRIPE_API_VERSION,
        "djstripe_validation_method": "verify_signature",
        "djstripe_tolerance": settings.STRIPE_WEBHOOK_TOLERANCE,
    }


def settings_webhook_endpoint() -> WebhookEndpoint:
    """The endpoint row for DJSTRIPE_WEBHOOK_SECRET, kept equal to the settings.

    Written on the first webhook and whenever the settings change (a rotated secret takes
    effect on the next delivery); otherwise one indexed read.
    """
    fields = _endpoint_fields()
    endpoint = WebhookEndpoint.objects.filter(id=ENV_ENDPOINT_ID).first()
    if endpoint is None:
        try:
            with transaction.atomic():
                endpoint, _ = WebhookEndpoint.objects.get_or_create(
                    id=ENV_ENDPOINT_ID, defaults={**fields, "stripe_data": {}}
                )
        except IntegrityError:
            endpoint = WebhookEndpoint.objects.get(id=ENV_ENDPOINT_ID)
    changed = {name: value for name, value in fields.items() if getattr(endpoint, name) != value}
    if changed:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changed)
        for name, value in changed.items():
            setattr(endpoint, name, value)
    return endpoint


def verify_signature(
    *, payload: bytes, signature: str | None, endpoint: WebhookEndpoint | None = None
) -> None:
    """Check the Stripe-Signature header (and its age) against DJSTRIPE_WEBHOOK_SECRET, or
    against the secret and tolerance of `endpoint`, a webhook endpoint stored in the database."""
    if endpoint is None:
        secret, tolerance = settings.DJSTRIPE_WEBHOOK_SECRET, settings.STRIPE_WEBHOOK_TOLERANCE
        if not secret:
            raise WebhookNotConfiguredError(
                "Set DJSTRIPE_WEBHOOK_SECRET to receive Stripe webhooks."
            )
    else:
        secret, tolerance = endpoint.secret, endpoint.djstripe_tolerance
        if not secret:
            raise WebhookNotConfiguredError(
                f"The webhook endpoint {endpoint.id} has no signing secret."
            )
    if not signature:
        raise WebhookRejectedError("Missing Stripe-Signature header.")
    try:
        body = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(body, signature, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejectedError(f"Invalid signature: {exc.user_message or exc}") from exc
    except Exception as exc:  # undecodable body or malformed header: never a 500
        raise WebhookRejectedError("Malformed webhook request.") from exc


def check_event_shape(payload: bytes) -> None:
    """A signed body must still be a Stripe event before dj-stripe stores anything of it."""
    try:
        event = parse_json_body(payload)
    except InvalidJSONBodyError as exc:
        raise WebhookRejectedError(str(exc)) from exc
    if not isinstance(event, dict) or event.get("object", "event") != "event":
        raise WebhookRejectedError("The body is not a Stripe event.")
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        raise WebhookRejectedError("The event has no valid id.")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 250:
        raise WebhookRejectedError("The event has no valid type.")
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 < created < 2**37:
        raise WebhookRejectedError("The event has no valid created timestamp.")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejectedError("The event has no data.object.")
    if "\x00" in payload.decode("utf-8") or b"\\u0000" in payload:
        raise WebhookRejectedError("The body contains a NUL character.")


def _mode(live: bool) -> str:
    return "live" if live else "test"


def _reason_to_ignore(event: dict[str, Any]) -> str:
    """Why this event must not be applied, or "" to apply it."""
    event_live = event.get("livemode") is True
    if event_live != livemode():
        # With a live key a test-mode event must never change state, and the reverse:
        # dj-stripe would store it and re-fetch its object with the key in use.
        return (
            f"{_mode(event_live).capitalize()}-mode event received while the project uses "
            f"{_mode(livemode())}-mode Stripe (STRIPE_LIVE_MODE): not applied."
        )
    obj = event["data"]["object"]
    if (
        obj.get("object") == "customer"
        and event["type"] != "customer.deleted"
        and Customer.objects.filter(id=obj.get("id"), date_purged__isnull=False).exists()
    ):
        # dj-stripe would re-fetch the customer, which Stripe no longer serves: the event
        # would fail on every retry. The customer's deletion has been applied already.
        return "The customer was deleted at Stripe since: its earlier changes no longer apply."
    return ""


def ignore_event(payload: bytes) -> IgnoredEvent | None:
    """Record the event as ignored (once) and return it when it must not be applied: an event
    of the other Stripe mode, or a change to a customer Stripe has deleted since. None for an
    event to apply."""
    event = parse_json_body(payload)
    reason = _reason_to_ignore(event)
    if not reason:
        return None
    ignored, _ = IgnoredEvent.objects.get_or_create(
        stripe_event_id=event["id"],
        defaults={
            "type": event["type"],
            "livemode": event.get("livemode") is True,
            "reason": reason,
        },
    )
    logger.warning("Stripe event %s ignored: %s", event["id"], ignored.reason)
    return ignored


#: dj-stripe lets this header replace the secret when DEBUG is on (for `stripe listen`);
#: it is never honoured here: a delivery is checked against its endpoint's secret only.
DEBUG_SECRET_HEADER = "HTTP_X_DJSTRIPE_WEBHOOK_SECRET"


def process_webhook(request: HttpRequest) -> HttpResponse:
    """Verify a delivery to /djstripe/webhook/ and hand it to dj-stripe's processing.

    Only requests signed with DJSTRIPE_WEBHOOK_SECRET reach dj-stripe, so forged or stale
    requests store nothing. dj-stripe then records the delivery (WebhookEventTrigger), stores
    the Event once, syncs its object and sends the signals, in one transaction. A failure
    answers 500 (the trigger keeps the traceback) and Stripe retries.
    """
    verify_signature(payload=request.body, signature=request.headers.get("Stripe-Signature"))
    check_event_shape(request.body)
    return _process_verified(request, settings_webhook_endpoint())


def process_endpoint_webhook(request: HttpRequest, *, uuid: UUID) -> HttpResponse:
    """Verify a delivery to /djstripe/webhook/<uuid>/ and hand it to dj-stripe's processing.

    The route of webhook endpoints stored in the database (created in the admin or by
    `stripe_listen`). dj-stripe's own view stores a WebhookEventTrigger for any request with a
    Stripe-Signature header before it checks the signature; here the signature is checked
    first, against that endpoint's secret and tolerance, so forged requests store nothing.
    """
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        raise WebhookRejectedError("Missing Stripe-Signature header.")
    endpoint = WebhookEndpoint.objects.filter(djstripe_uuid=uuid).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    verify_signature(payload=request.body, signature=signature, endpoint=endpoint)
    check_event_shape(request.body)
    return _process_verified(request, endpoint)


def _process_verified(request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    """dj-stripe's processing of a delivery whose signature and shape were checked."""
    ignored = ignore_event(request.body)
    if ignored is not None:
        return JsonResponse({"ignored": ignored.reason})
    request.META.pop(DEBUG_SECRET_HEADER, None)
    request.__dict__.pop("headers", None)  # drop the cached headers that held it
    try:
        response = ProcessWebhookView().post(request, uuid=endpoint.djstripe_uuid)
    except Exception as exc:
        logger.exception("Stripe webhook processing failed")
        return JsonResponse({"error": "processing_failed", "detail": str(exc)[:200]}, status=500)
    if response.status_code != 200:
        return JsonResponse({"error": "invalid_event"}, status=response.status_code)
    return JsonResponse({"trigger": response.content.decode()})
