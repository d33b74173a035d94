"""Feature gating and usage limits: the decorators on the documented example views."""

from __future__ import annotations

import inspect

import pytest
from django.contrib.messages import get_messages

from apps.billing import decorators
from apps.billing.models import UsageCounter, UsageRecord
from apps.billing.usage import current_usage

from . import example_views, factories, usage_example_views

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.billing.urls")]
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def pro(user):
    return factories.subscription(user=user, plan=factories.plan("pro"))


@pytest.fixture
def enterprise(user):
    plan = factories.plan(
        "enterprise", features={"priority_support": True}, limits={"api_calls": 100000}
    )
    return factories.subscription(user=user, plan=plan)


def test_anonymous_users_go_to_login(client):
    response = client.get("/examples/premium/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/examples/premium/", **JSON).status_code == 401


def test_no_subscription_redirects_to_pricing_with_a_message(client, user):
    client.force_login(user)
    response = client.get("/examples/premium/")
    assert response.status_code == 302
    assert response["Location"] == "/billing/pricing/"
    assert "needs an active subscription" in str(list(get_messages(response.wsgi_request))[0])


def test_no_subscription_gets_a_json_error_for_api_clients(client, user):
    client.force_login(user)
    response = client.get("/examples/premium/", **JSON)
    assert response.status_code == 403
    assert response.json()["error"] == "subscription_required"


def test_subscribers_pass(client, user, pro):
    client.force_login(user)
    assert client.get("/examples/premium/").content == b"premium"
    assert client.get("/examples/pro/").content == b"pro"
    assert client.get("/examples/pro-or-enterprise/").status_code == 200
    assert client.get("/examples/analytics/").content == b"analytics"


def test_plan_required_refuses_other_plans(client, user, enterprise):
    client.force_login(user)
    assert client.get("/examples/pro/").status_code == 302
    response = client.get("/examples/pro/", **JSON)
    assert response.status_code == 403 and response.json()["error"] == "plan_required"
    assert client.get("/examples/pro-or-enterprise/").status_code == 200


def test_feature_required_reads_the_subscription_features(client, user, enterprise):
    client.force_login(user)
    response = client.get("/examples/analytics/", **JSON)
    assert response.status_code == 403
    assert response.json() == {
        "error": "feature_required",
        "detail": "Your plan does not include this feature. Upgrade to continue.",
        "feature": "advanced_analytics",
    }
    # A grant on this one subscription (admin) opens it.
    metadata = enterprise.billing_metadata
    metadata.features = {**metadata.features, "advanced_analytics": True}
    metadata.save()
    assert client.get("/examples/analytics/").status_code == 200


def test_canceled_subscriptions_are_denied(client, user, pro):
    pro.stripe_data = {**pro.stripe_data, "status": "canceled"}
    pro.save()
    client.force_login(user)
    assert client.get("/examples/premium/", **JSON).status_code == 403


def test_usage_limit_allows_then_answers_429(client, user, pro):
    client.force_login(user)
    statuses = [client.get("/api/three/").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = client.get("/api/three/")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "usage_limit_exceeded"
    assert response.json()["used"] == 3
    assert current_usage(pro, "api_calls") == 3
    assert UsageRecord.objects.filter(subscription_id=pro.id).count() == 3


def test_usage_limit_reports_what_is_left(client, user, pro):
    client.force_login(user)
    response = client.get("/api/three/")
    assert response["X-Usage-Limit"] == "3"
    assert response["X-Usage-Remaining"] == "2"


def test_failed_calls_are_not_counted(client, user, pro):
    client.force_login(user)
    assert client.get("/api/three/?fail=1").status_code == 400
    with pytest.raises(RuntimeError):
        client.get("/api/three/?crash=1")
    assert current_usage(pro, "api_calls") == 0
    assert not UsageRecord.objects.exists()
    assert [client.get("/api/three/").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_usage_limit_defaults_to_the_plan_limit(client, user, pro):
    client.force_login(user)
    UsageCounter.objects.create(
        subscription_id=pro.id,
        metric="api_calls",
        period_start=pro.billing_metadata.usage_period_start,
        count=factories.PRO_LIMITS["api_calls"] - 1,
    )
    assert client.get("/api/plan-limited/").status_code == 200
    assert client.get("/api/plan-limited/").status_code == 429


def test_usage_limit_needs_a_subscription(client, user):
    client.force_login(user)
    assert client.get("/api/three/").status_code == 403  # /api/ paths are answered in JSON
    assert client.get("/examples/limited/").status_code == 302  # people go to the pricing page


def test_the_documented_usage_limit_example(client, user, pro):
    client.force_login(user)
    response = client.get("/examples/limited/")
    assert response.json() == {"data": "response"}
    assert current_usage(pro, "api_calls") == 1  # "Usage tracked automatically"


def test_the_documented_api_endpoint_example(client, user, pro):
    client.force_login(user)
    assert client.get("/examples/api/").json() == {"data": "response"}
    assert current_usage(pro, "api_calls") == 1
    UsageCounter.objects.filter(subscription_id=pro.id).update(count=10000)
    response = client.get("/examples/api/")
    assert response.status_code == 429
    assert response.json() == {"error": "API limit exceeded"}


def test_the_documented_dashboard_example(client, user, pro, example_templates):
    client.force_login(user)
    page = client.get("/examples/dashboard/").content.decode()
    assert "Plan: Pro" in page
    assert "advanced_analytics" in page and "api_calls: 10000" in page
    assert "Status: active" in page
    assert "0 / 10000" in page


def test_the_documented_dashboard_without_subscription(client, user, example_templates):
    client.force_login(user)
    assert "No subscription" in client.get("/examples/dashboard/").content.decode()


def test_decorators_keep_the_view_signature():
    for view in (
        example_views.premium_feature,
        example_views.pro_only_feature,
        example_views.analytics_view,
        usage_example_views.limited_api_endpoint,
    ):
        assert view.__wrapped__.__name__ == view.__name__
        assert view.__doc__


@pytest.mark.parametrize(
    "make",
    [
        lambda: decorators.usage_limit("api_calls", period="week"),
        lambda: decorators.usage_limit("api_calls", limit=-1),
        lambda: decorators.usage_limit("api_calls", quantity=0),
    ],
)
def test_bad_decorator_arguments_fail_at_import_time(make):
    with pytest.raises(ValueError):
        make()


def test_usage_limit_on_an_async_view(client, user, pro):
    client.force_login(user)
    assert inspect.iscoroutinefunction(usage_example_views.async_three_calls)
    assert usage_example_views.async_three_calls.__name__ == "async_three_calls"
    assert client.get("/api/async-three/?fail=1").status_code == 400
    with pytest.raises(RuntimeError):
        client.get("/api/async-three/?crash=1")
    statuses = [client.get("/api/async-three/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert current_usage(pro, "api_calls") == 3
    assert UsageRecord.objects.filter(subscription_id=pro.id).count() == 3


def test_usage_limit_on_an_async_view_needs_a_subscription(client, user):
    client.force_login(user)
    assert client.get("/api/async-three/").status_code == 403
