"""Stripe objects and webhook deliveries for tests: JSON fixtures in today's API shapes,
events wrapped like Stripe wraps them, and real HMAC-SHA256 signatures."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
_counter = itertools.count(1)


def load_fixture(name: str, **overrides: Any) -> dict[str, Any]:
    """A fixture object (tests/fixtures/stripe/NAME.json) with top-level fields overridden."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    data.update(copy.deepcopy(overrides))
    return data


def make_event(
    event_type: str, obj: dict[str, Any], *, created: int | None = None, event_id: str = ""
) -> dict[str, Any]:
    """Wrap an object in a Stripe event envelope."""
    return {
        "id": event_id or f"evt_test_{next(_counter):06d}_{int(time.time() * 1000)}",
        "object": "event",
        "api_version": settings.STRIPE_API_VERSION,
        "created": created if created is not None else int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign(payload: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send for this payload."""
    secret = secret if secret is not None else settings.STRIPE_WEBHOOK_SECRET
    timestamp = timestamp if timestamp is not None else int(time.time())
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()
