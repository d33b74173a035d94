"""Webhooks (advanced mode): POST /djstripe/webhook/ (and /djstripe/webhook/<uuid>/ of
endpoints stored in the database) store each event; a worker applies it through dj-stripe.

The request does few things, in a fixed order, and never calls Stripe: require the signature
header and verify it against DJSTRIPE_WEBHOOK_SECRET (at <uuid>: that endpoint's secret),
check the body is a Stripe event, store it once by its id (a `WebhookEvent`, with dj-stripe's
delivery log `WebhookEventTrigger` holding the body), enqueue its processing once that commits,
and answer 200. A redelivery finds the stored event: nothing more is stored, and it is queued
again only if it is not done.

A worker (`tasks.process_webhook_events`, in batches: see `batching`) then runs
`apply_webhook_event`: dj-stripe's processing of the delivery (it stores the Event, re-fetches
its object from Stripe and sends the signals that `webhook_handlers` receives), in one
transaction, one worker at a time per Stripe object. A failure rolls that back and is kept:
the error on the `WebhookEvent`, the traceback on the trigger; the task tries again later.

Two kinds of events are recorded as an `IgnoredEvent` with the reason, answered 200 so Stripe
stops sending them, and never reach dj-stripe, so they change nothing: an event of the other
Stripe mode than STRIPE_LIVE_MODE (a test-mode event reaching a live project, or the reverse),
and a change to a customer that Stripe has deleted since (dj-stripe could not re-fetch it, and
would fail it on every retry). The second is checked again by the worker: the deletion may be
applied after the change was stored.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any
from uuid import UUID

import stripe
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from djstripe.models import WebhookEndpoint, WebhookEventTrigger
from djstripe.models.webhooks import get_remote_ip

from . import fast_sql, tasks
from .models import WebhookEvent
from .stripe_api import livemode
from .webhook_handlers import ignore_event
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


#: How long this process trusts its last look at the endpoint row: a delivery reads the row at
#: most once in that time (a read per delivery cost ~10% of the ingest rate).
ENDPOINT_CHECK_SECONDS = 60.0
#: The settings this process last found in (or wrote to) the endpoint row, and when.
_endpoint_checked: dict[str, float] = {}


def settings_endpoint_id() -> str:
    """ENV_ENDPOINT_ID, once its row is known to hold the current settings: a plain read
    (`fast_sql.endpoint_values`) at most once every ENDPOINT_CHECK_SECONDS per process, a write
    only when the settings changed. A row removed in between is written again by `_receive`."""
    fields = _endpoint_fields()
    key = repr(sorted(fields.items()))
    if time.monotonic() - _endpoint_checked.get(key, -math.inf) < ENDPOINT_CHECK_SECONDS:
        return ENV_ENDPOINT_ID
    # enabled_events is JSON, which a plain read returns as text on some databases.
    compared = {name: value for name, value in fields.items() if name != "enabled_events"}
    if fast_sql.endpoint_values(ENV_ENDPOINT_ID, list(compared)) != compared:
        settings_webhook_endpoint()
    _endpoint_checked.clear()
    if not connection.in_atomic_block:  # inside a transaction, what was seen may be undone
        _endpoint_checked[key] = time.monotonic()
    return ENV_ENDPOINT_ID


def forget_endpoint_check() -> None:
    """Make the next delivery read the endpoint row again."""
    _endpoint_checked.clear()


def settings_webhook_endpoint() -> None:
    """Write the endpoint row for DJSTRIPE_WEBHOOK_SECRET, equal to the settings.

    Written on the first webhook and whenever the settings change (a rotated secret takes
    effect on the next delivery). Of two first deliveries at once, `get_or_create` lets one
    create the row and the other read it.
    """
    fields = _endpoint_fields()
    endpoint, _ = WebhookEndpoint.objects.get_or_create(
        id=ENV_ENDPOINT_ID, defaults={**fields, "stripe_data": {}}
    )
    changed = {name: value for name, value in fields.items() if getattr(endpoint, name) != value}
    if changed:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changed)


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


def check_event_shape(payload: bytes) -> dict[str, Any]:
    """A signed body must still be a Stripe event before anything of it is stored; the event."""
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
    # A raw NUL is not JSON (refused above); an escaped one would parse, but Stripe never sends
    # one and PostgreSQL's jsonb cannot store it.
    if b"\\u0000" in payload:
        raise WebhookRejectedError("The body contains a NUL character.")
    return event


#: dj-stripe lets this header replace the secret when DEBUG is on (for `stripe listen`);
#: it is never honoured here, and never stored: a delivery is checked against its endpoint's
#: secret only.
DEBUG_SECRET_HEADER = "X-Djstripe-Webhook-Secret"


def process_webhook(request: HttpRequest) -> HttpResponse:
    """Verify a delivery to /djstripe/webhook/, store its event once and queue it for a worker.

    Only requests signed with DJSTRIPE_WEBHOOK_SECRET are stored, so forged or stale requests
    store nothing.
    """
    verify_signature(payload=request.body, signature=request.headers.get("Stripe-Signature"))
    event = check_event_shape(request.body)
    try:
        return _receive(request, event, endpoint_id=settings_endpoint_id(), account_id=None)
    except IntegrityError:
        # The delivery log's endpoint row went away since this process last read it (deleted
        # in the admin, say): the statement stored nothing. Write the row and store again.
        forget_endpoint_check()
        return _receive(request, event, endpoint_id=settings_endpoint_id(), account_id=None)


def process_endpoint_webhook(request: HttpRequest, *, uuid: UUID) -> HttpResponse:
    """Verify a delivery to /djstripe/webhook/<uuid>/, store its event once and queue it.

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
    event = check_event_shape(request.body)
    return _receive(
        request, event, endpoint_id=endpoint.id, account_id=endpoint.djstripe_owner_account_id
    )


def _receive(
    request: HttpRequest, event: dict[str, Any], *, endpoint_id: str, account_id: str | None
) -> HttpResponse:
    """Store a verified event (or find it stored) and queue it; the answer Stripe gets."""
    ignored = ignore_event(event)
    if ignored is not None:
        return JsonResponse({"ignored": ignored.reason})
    stored, created = store_event(
        request, event=event, endpoint_id=endpoint_id, account_id=account_id
    )
    if not stored.is_done:
        # A redelivery of an event that is not done yet (failed, or still queued) is queued
        # again: a worker that finds it done, or being applied, leaves it.
        tasks.queue_webhook_event(stored.pk)
    return JsonResponse({"received" if created else "duplicate": stored.stripe_event_id})


def store_event(
    request: HttpRequest, *, event: dict[str, Any], endpoint_id: str, account_id: str | None
) -> tuple[WebhookEvent, bool]:
    """The event stored once by its Stripe id, and whether this delivery stored it.

    dj-stripe's delivery log (WebhookEventTrigger, already marked valid: its signature was
    checked) keeps the body and headers; the `WebhookEvent` beside it is unique by event id,
    so of two concurrent deliveries of one event exactly one stores it (the other writes
    nothing, and finds the first one's). On PostgreSQL both rows are one statement
    (`fast_sql.store_webhook_event`).
    """
    now = timezone.now()
    values = {"stripe_event_id": event["id"], "type": event["type"], "next_attempt_at": now}
    trigger = {
        "headers": {
            name: value
            for name, value in request.headers.items()
            if name.lower() != DEBUG_SECRET_HEADER.lower()
        },
        "body": request.body.decode("utf-8"),
        "remote_ip": get_remote_ip(request),
        "valid": True,
        "webhook_endpoint_id": endpoint_id,
        "stripe_trigger_account_id": account_id,
    }
    if connection.vendor == "postgresql":
        pk = fast_sql.store_webhook_event(event=values, trigger=trigger)
        stored = WebhookEvent(pk=pk, status=WebhookEvent.Status.RECEIVED, **values) if pk else None
    else:
        stored = store_event_with_orm(event=values, trigger=trigger)
    if stored is None:  # stored by an earlier (or concurrent) delivery
        return WebhookEvent.objects.get(stripe_event_id=event["id"]), False
    return stored, True


def store_event_with_orm(*, event: dict[str, Any], trigger: dict[str, Any]) -> WebhookEvent | None:
    """`fast_sql.store_webhook_event` with the ORM (the other databases): the new WebhookEvent,
    or None when its Stripe event id is stored already (then nothing is written)."""
    try:
        with transaction.atomic():
            logged = WebhookEventTrigger.objects.create(**trigger)
            return WebhookEvent.objects.create(**event, trigger=logged)
    except IntegrityError:
        if not WebhookEvent.objects.filter(stripe_event_id=event["stripe_event_id"]).exists():
            raise
        return None
