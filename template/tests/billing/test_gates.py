"""The gates (`apps.billing.gates`, imported from `decorators`) in both billing modes, on plain
and on async views. `subscribe(plan, status)` is each mode's fixture of the same name."""

from __future__ import annotations

import inspect
import json

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from apps.billing.decorators import feature_required, plan_required, subscription_required

from . import example_views as views

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def call(view, user, **headers):
    request = RequestFactory().get("/premium/", **headers)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    if inspect.iscoroutinefunction(view):
        return async_to_sync(view)(request), request
    return view(request), request


def test_decorators_keep_the_view_signature():
    assert views.premium_feature.__name__ == "premium_feature"
    assert views.premium_feature.__doc__ == "Requires active subscription."
    assert views.analytics_view.__wrapped__.__name__ == "analytics_view"
    assert subscription_required()(views.premium_feature).__name__ == "premium_feature"
    assert views.async_premium_feature.__doc__ == "An async view behind the same gate."


def test_async_views_stay_async():
    for view in (views.async_premium_feature, views.async_pro_only_feature):
        assert inspect.iscoroutinefunction(view)
    assert not inspect.iscoroutinefunction(views.premium_feature)


@pytest.mark.parametrize("view", [views.premium_feature, views.async_premium_feature])
def test_anonymous_users_are_sent_to_login(view):
    response, _ = call(view, AnonymousUser())
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert call(view, AnonymousUser(), **JSON)[0].status_code == 401


@pytest.mark.parametrize("view", [views.premium_feature, views.async_premium_feature])
def test_no_subscription_redirects_to_pricing_with_a_message(user, view):
    response, request = call(view, user)
    assert response.status_code == 302
    assert response["Location"] == "/billing/pricing/"
    assert "active subscription" in str(list(get_messages(request))[0])


@pytest.mark.parametrize("view", [views.premium_feature, views.async_premium_feature])
def test_json_clients_get_a_json_error(user, view):
    response, _ = call(view, user, **JSON)
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "subscription_required"


@pytest.mark.parametrize("status", ["active", "trialing"])
def test_subscribers_get_in(user, subscribe, status):
    subscribe("pro", status=status)
    assert call(views.premium_feature, user)[0].content == b"premium"
    assert call(views.async_premium_feature, user)[0].content == b"async premium"


def test_past_due_does_not_get_in(user, subscribe):
    subscribe("pro", status="past_due")
    assert call(views.premium_feature, user)[0].status_code == 302
    assert call(views.async_premium_feature, user, **JSON)[0].status_code == 403


def test_plan_required_allows_the_plan(user, subscribe):
    subscribe("pro")
    assert call(views.pro_only_feature, user)[0].content == b"pro"
    assert call(views.async_pro_only_feature, user)[0].content == b"async pro"


def test_plan_required_refuses_other_plans(user, subscribe):
    subscribe("enterprise")
    response, request = call(views.pro_only_feature, user)
    assert response.status_code == 302
    assert "pro plan" in str(list(get_messages(request))[0])
    json_response, _ = call(views.pro_only_feature, user, **JSON)
    assert json.loads(json_response.content)["error"] == "plan_required"
    async_response, _ = call(views.async_pro_only_feature, user, **JSON)
    assert json.loads(async_response.content)["error"] == "plan_required"


def test_plan_required_accepts_a_list(user, subscribe):
    subscribe("enterprise")
    assert call(views.premium_plans_feature, user)[0].content == b"pro or enterprise"


def test_feature_required_reads_the_plan_features(user, subscribe):
    subscribe("pro")
    assert call(views.analytics_view, user)[0].content == b"analytics"
    response, _ = call(views.async_support_view, user, **JSON)
    assert response.status_code == 403
    assert json.loads(response.content) == {
        "error": "feature_required",
        "detail": "Your plan does not include this feature. Upgrade to continue.",
        "feature": "priority_support",
    }


def test_feature_required_lets_a_plan_with_the_feature_in(user, subscribe):
    subscribe("enterprise")
    assert call(views.async_support_view, user)[0].content == b"async support"


@pytest.mark.parametrize(
    "make", [lambda: plan_required([]), lambda: feature_required("")], ids=["plan", "feature"]
)
def test_bad_gate_arguments_fail_at_import_time(make):
    with pytest.raises(ValueError):
        make()
