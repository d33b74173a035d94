from __future__ import annotations

import functools
import json

import pytest
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.test import RequestFactory

from apps.billing.decorators import plan_required, subscription_required

pytestmark = pytest.mark.django_db


@subscription_required
def premium_feature(request):
    """Requires active subscription."""
    return HttpResponse("premium")


@plan_required("pro")
def pro_only_feature(request):
    """Only for Pro subscribers."""
    return HttpResponse("pro")


@plan_required(["pro", "enterprise"])
def premium_plans_feature(request):
    return HttpResponse("pro or enterprise")


def call(view, user, **headers):
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore

    request = RequestFactory().get("/premium/", **headers)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return view(request), request


def test_decorators_keep_the_view_signature():
    assert premium_feature.__name__ == "premium_feature"
    assert premium_feature.__doc__ == "Requires active subscription."
    assert isinstance(premium_feature, functools.partial) is False
    assert subscription_required()(premium_feature).__name__ == "premium_feature"


def test_anonymous_users_are_sent_to_login():
    from django.contrib.auth.models import AnonymousUser

    response, _ = call(premium_feature, AnonymousUser())
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_no_subscription_redirects_to_pricing_with_a_message(user):
    response, request = call(premium_feature, user)
    assert response.status_code == 302
    assert response["Location"] == "/billing/pricing/"
    assert "active subscription" in str(list(get_messages(request))[0])


def test_json_clients_get_a_json_error(user):
    response, _ = call(premium_feature, user, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "subscription_required"


@pytest.mark.parametrize("status", ["active", "trialing"])
def test_subscribers_get_in(user, make_subscription, status):
    make_subscription(status=status)
    response, _ = call(premium_feature, user)
    assert response.content == b"premium"


def test_past_due_does_not_get_in(user, make_subscription):
    make_subscription(status="past_due")
    assert call(premium_feature, user)[0].status_code == 302


def test_plan_required_allows_the_plan(user, make_subscription):
    make_subscription(price_id="price_test_123")
    assert call(pro_only_feature, user)[0].content == b"pro"


def test_plan_required_refuses_other_plans(user, make_subscription):
    make_subscription(price_id="price_test_enterprise")
    response, request = call(pro_only_feature, user)
    assert response.status_code == 302
    assert "pro plan" in str(list(get_messages(request))[0])
    json_response, _ = call(pro_only_feature, user, HTTP_ACCEPT="application/json")
    assert json.loads(json_response.content)["error"] == "plan_required"


def test_plan_required_accepts_a_list(user, make_subscription):
    make_subscription(price_id="price_test_enterprise")
    assert call(premium_plans_feature, user)[0].content == b"pro or enterprise"


def test_plan_required_needs_a_plan():
    with pytest.raises(ValueError):
        plan_required([])


def test_plan_required_knows_a_subscription_by_its_plan_name(user, customer):
    # A row written with only the spec's fields (no price id): the plan name identifies it.
    from apps.billing.models import Subscription

    Subscription.objects.create(
        customer=customer, stripe_subscription_id="sub_named", status="active", plan_name="Pro"
    )
    assert call(pro_only_feature, user)[0].content == b"pro"
