"""Stripe's deliveries are served before the browser middleware (apps/billing/middleware.py),
keeping what still matters for them; every other request goes through the whole stack."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from tests.fuzzing import WebhookTarget
from tests.stripe_events import encode, load_fixture, make_event, sign

pytestmark = pytest.mark.django_db


def deliver(target: WebhookTarget, **extra: Any) -> HttpResponse:
    body = encode(make_event("customer.subscription.updated", load_fixture("subscription")))
    signature = sign(body, secret=target.secret)
    return Client().post(
        target.url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature, **extra
    )


def test_a_delivery_is_stored_without_the_browser_middleware(webhook_target):
    response = deliver(webhook_target)
    assert response.status_code == 200
    assert webhook_target.stored() > 0  # (advanced mode also keeps dj-stripe's delivery log)
    # No session, user or CSP nonce was set up for it, and no page headers are sent back.
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "user")
    assert not hasattr(request, "csp_nonce")
    assert "Content-Security-Policy" not in response and "X-Frame-Options" not in response
    # SecurityMiddleware, above it, still ran; the length is sent as CommonMiddleware sends it.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(response.content))


def test_a_delivery_to_a_host_not_allowed_is_refused(webhook_target):
    response = deliver(webhook_target, HTTP_HOST="attacker.example")
    assert response.status_code == 400
    assert webhook_target.stored() == 0


def test_the_https_redirect_still_applies(webhook_target, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = deliver(webhook_target)
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert webhook_target.stored() == 0


def test_a_get_goes_through_the_whole_stack_to_a_405(webhook_target):
    response = Client().get(webhook_target.url)
    assert response.status_code == 405
    assert hasattr(response.wsgi_request, "user")


def test_other_posts_go_through_the_whole_stack():
    response = Client(enforce_csrf_checks=True).post(
        reverse("account_login"), {"login": "someone@example.com", "password": "x"}
    )
    assert response.status_code == 403  # the CSRF check still runs
    assert hasattr(response.wsgi_request, "session")
