"""Stripe's webhook deliveries, answered before the middleware that only browsers need.

A delivery is a signed POST from Stripe's servers: no session, cookie, user, CSRF token,
message or page to frame. The middleware below this one still does its work on each request
(django-csp alone builds the policy header twice), and measured in-process that was a quarter
of a delivery's CPU (~0.8 ms with it, ~0.6 ms without, basic mode on PostgreSQL): the webhook
ingest target (1,000 events/s on 2 cores, `make bench` in the template) needs it back.

`StripeWebhookMiddleware` sits right after Django's SecurityMiddleware, so the HTTPS redirect
and the security headers still apply, and serves the views marked `@stripe_webhook` itself.
Every other request, and every method but POST, goes down the stack unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve

V = TypeVar("V", bound=Callable[..., HttpResponseBase])


def stripe_webhook(view: V) -> V:
    """Mark a view that receives Stripe's webhooks: `StripeWebhookMiddleware` serves it without
    the browser middleware. On a class-based view:
    `@method_decorator(stripe_webhook, name="dispatch")`, as with `csrf_exempt`."""
    view.stripe_webhook = True  # type: ignore[attr-defined]
    return view


class StripeWebhookMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method != "POST":
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if not getattr(match.func, "stripe_webhook", False):
            return self.get_response(request)
        # What the skipped middleware did that still matters here: CommonMiddleware validates
        # the Host header against ALLOWED_HOSTS (DisallowedHost: 400) and sets Content-Length.
        request.get_host()
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
        return response
