"""Who gets through a gate, and what the others are told, with the gates applied inside each
test (as a project applies them when its views module is imported), on plain and async views,
in both billing modes. `subscribe(plan, status)` subscribes `user` (each mode's fixture)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from apps.billing.decorators import feature_required, plan_required, subscription_required

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def plain_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The view behind the gate: it echoes what it was called with."""
    return HttpResponse(json.dumps({"args": list(args), "kwargs": kwargs}))


async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return HttpResponse(json.dumps({"args": list(args), "kwargs": kwargs, "async": True}))


def request_for(
    user: Any, path: str = "/premium/?tab=2", method: str = "get", **extra: Any
) -> HttpRequest:
    request: HttpRequest = getattr(RequestFactory(), method)(path, **extra)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def run(view: Callable[..., Any], request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
    if inspect.iscoroutinefunction(view):
        return async_to_sync(view)(request, *args, **kwargs)
    return view(request, *args, **kwargs)


def messages_of(request: HttpRequest) -> list[str]:
    return [str(message) for message in get_messages(request)]


def error_of(response: HttpResponse) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    return dict(json.loads(response.content))


BOTH = pytest.mark.parametrize("view", [plain_view, async_view], ids=["sync", "async"])


@BOTH
@pytest.mark.parametrize("form", ["bare", "called"])
def test_a_subscriber_reaches_the_view_with_its_arguments(
    user: Any, subscribe: Any, view: Any, form: str
) -> None:
    subscribe("pro")
    gated = subscription_required(view) if form == "bare" else subscription_required()(view)
    assert inspect.iscoroutinefunction(gated) == inspect.iscoroutinefunction(view)
    assert gated.__name__ == view.__name__
    response = run(gated, request_for(user), 7, slug="x")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["args"] == [7]
    assert body["kwargs"] == {"slug": "x"}


@BOTH
def test_another_users_subscription_gives_no_access(
    user: Any, other_user: Any, subscribe: Any, view: Any
) -> None:
    subscribe("enterprise")
    for gated in (
        subscription_required(view),
        plan_required("enterprise")(view),
        feature_required("priority_support")(view),
    ):
        assert run(gated, request_for(user)).status_code == 200
        response = run(gated, request_for(other_user, **JSON))
        assert response.status_code == 403
        assert error_of(response)["error"] == "subscription_required"


@BOTH
@pytest.mark.parametrize(
    "gate",
    [subscription_required, plan_required("pro"), feature_required("api_access")],
    ids=["subscription", "plan", "feature"],
)
def test_without_a_subscription_every_gate_asks_for_one(user: Any, view: Any, gate: Any) -> None:
    gated = gate(view)
    response = run(gated, request_for(user, **JSON))
    assert response.status_code == 403
    assert error_of(response) == {
        "error": "subscription_required",
        "detail": "This feature needs an active subscription. Choose a plan to continue.",
    }
    request = request_for(user)
    response = run(gated, request)
    assert response.status_code == 302
    assert response["Location"] == "/billing/pricing/"
    assert messages_of(request) == [
        "This feature needs an active subscription. Choose a plan to continue."
    ]


@BOTH
def test_a_subscriber_of_another_plan_is_told_which_plans_give_access(
    user: Any, subscribe: Any, view: Any
) -> None:
    subscribe("pro")
    assert run(plan_required(["enterprise", "pro"])(view), request_for(user)).status_code == 200
    gated = plan_required(["enterprise", "team"])(view)
    response = run(gated, request_for(user, **JSON))
    assert response.status_code == 403
    assert error_of(response) == {
        "error": "plan_required",
        "detail": "This feature is part of the enterprise or team plan. Upgrade to continue.",
    }
    request = request_for(user)
    assert run(gated, request)["Location"] == "/billing/pricing/"
    assert messages_of(request) == [
        "This feature is part of the enterprise or team plan. Upgrade to continue."
    ]


@BOTH
def test_a_plan_without_the_feature_is_refused_with_the_feature_named(
    user: Any, subscribe: Any, view: Any
) -> None:
    subscribe("pro")
    assert run(feature_required("advanced_analytics")(view), request_for(user)).status_code == 200
    gated = feature_required("priority_support")(view)
    response = run(gated, request_for(user, **JSON))
    assert response.status_code == 403
    assert error_of(response) == {
        "error": "feature_required",
        "detail": "Your plan does not include this feature. Upgrade to continue.",
        "feature": "priority_support",
    }
    request = request_for(user)
    assert run(gated, request)["Location"] == "/billing/pricing/"
    assert messages_of(request) == ["Your plan does not include this feature. Upgrade to continue."]


@BOTH
def test_anonymous_users_log_in_and_come_back_to_the_page(view: Any) -> None:
    gated = plan_required("pro")(view)
    response = run(gated, request_for(AnonymousUser()))
    assert response.status_code == 302
    assert unquote(response["Location"]) == "/accounts/login/?next=/premium/?tab=2"
    response = run(gated, request_for(AnonymousUser(), **JSON))
    assert response.status_code == 401
    assert error_of(response) == {"error": "authentication_required", "detail": "Log in first."}


@pytest.mark.parametrize(
    ("path", "method", "extra"),
    [
        ("/api/reports/", "get", {}),
        ("/reports/", "post", {"data": "{}", "content_type": "application/json"}),
        ("/reports/", "get", {"HTTP_ACCEPT": "application/json"}),
    ],
    ids=["api-path", "json-body", "accepts-json"],
)
def test_api_clients_get_json_errors(user: Any, path: str, method: str, extra: Any) -> None:
    response = run(subscription_required(plain_view), request_for(user, path, method, **extra))
    assert response.status_code == 403
    assert error_of(response)["error"] == "subscription_required"
    anonymous = run(subscription_required(plain_view), request_for(AnonymousUser(), path, method))
    assert anonymous.status_code == (401 if path.startswith("/api/") else 302)


@pytest.mark.parametrize(
    "extra",
    [
        {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/json;q=0.9"},
        {"HTTP_ACCEPT": "*/*"},
        {"data": {"a": "1"}},
    ],
    ids=["browser", "any", "form-post"],
)
def test_browsers_are_redirected(user: Any, extra: Any) -> None:
    method = "post" if "data" in extra else "get"
    response = run(
        subscription_required(plain_view), request_for(user, "/reports/", method, **extra)
    )
    assert response.status_code == 302
    assert response["Location"] == "/billing/pricing/"


@pytest.mark.parametrize(
    ("make", "words"),
    [(lambda: plan_required([]), "plan slug"), (lambda: feature_required(""), "feature name")],
    ids=["plan", "feature"],
)
def test_a_gate_without_a_plan_or_feature_is_a_programming_error(make: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        make()
