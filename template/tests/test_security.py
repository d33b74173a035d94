"""CSRF and login requirements over the whole URL configuration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db


def all_views(patterns: Any = None, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from all_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_only_stripe_webhooks_are_csrf_exempt():
    exempt = {
        route
        for route, view in all_views()
        if getattr(view, "csrf_exempt", False) and not route.startswith("admin/")
    }
    assert exempt, "the Stripe webhook must be CSRF-exempt"
    assert all("webhook" in route for route in exempt), exempt


def test_only_stripe_webhooks_skip_the_browser_middleware():
    served_first = {route for route, view in all_views() if getattr(view, "stripe_webhook", False)}
    assert served_first, "the Stripe webhook must be served by StripeWebhookMiddleware"
    assert all("webhook" in route for route in served_first), served_first


@pytest.mark.parametrize("name", ["billing:checkout", "billing:customer_portal"])
def test_billing_posts_require_a_csrf_token(user, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse(name), {"price_id": "price_anything"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "name", ["billing:checkout", "billing:customer_portal", "billing:subscription", "dashboard"]
)
def test_pages_that_need_an_account_require_login(client, name):
    response = (
        client.post(reverse(name)) if name == "billing:checkout" else client.get(reverse(name))
    )
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
