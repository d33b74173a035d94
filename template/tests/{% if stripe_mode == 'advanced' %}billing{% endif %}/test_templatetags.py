"""{% load billing_tags %}: the documented pricing, subscription-status and usage-meter
templates."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test import RequestFactory

from apps.billing.models import PlanConfiguration, UsageCounter
from apps.billing.usage import UsageSummary
from apps.billing.utils import record_usage

from . import factories

pytestmark = pytest.mark.django_db


def render(name, user, **context):
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(name, {"user": user, **context}, request=request)


def usage_of(user):
    return Template(
        "{% load billing_tags %}{% get_usage user 'api_calls' as u %}"
        "{{ u.current }}|{{ u.limit }}|{{ u.percentage }}|"
        "{{ u.is_near_limit }}|{{ u.is_over_limit }}"
    ).render(Context({"user": user}))


@pytest.mark.parametrize(
    ("current", "limit", "percentage", "near", "over"),
    [
        (0, 100, 0, False, False),
        (79, 100, 79, False, False),
        (80, 100, 80, True, False),
        (99, 100, 99, True, False),
        (100, 100, 100, True, True),
        (150, 100, 100, True, True),
        (5, None, 0, False, False),
        (0, 0, 100, True, True),
    ],
)
def test_usage_summary(current, limit, percentage, near, over):
    summary = UsageSummary(metric="api_calls", current=current, limit=limit)
    assert (summary.percentage, summary.is_near_limit, summary.is_over_limit) == (
        percentage,
        near,
        over,
    )


def test_get_usage_of_a_subscriber(user):
    subscription = factories.subscription(
        user=user, plan=factories.plan("pro", limits={"api_calls": 10})
    )
    assert usage_of(user) == "0|10|0|False|False"
    record_usage(subscription, metric="api_calls", quantity=8)
    assert usage_of(user) == "8|10|80|True|False"
    record_usage(subscription, metric="api_calls", quantity=2)
    assert usage_of(user) == "10|10|100|True|True"


def test_get_usage_without_subscription(user):
    assert usage_of(user) == "0|0|100|True|True"
    assert usage_of(AnonymousUser()) == "0|0|100|True|True"


def test_the_documented_usage_meter_template(user, example_templates):
    subscription = factories.subscription(user=user)
    UsageCounter.objects.create(
        subscription_id=subscription.id,
        metric="api_calls",
        period_start=subscription.billing_metadata.usage_period_start,
        count=8500,
    )
    page = render("billing/examples/usage_meter.html", user)
    assert "8500 / 10000" in page
    assert 'style="width: 85%"' in page
    assert "Approaching limit" in page
    assert "Limit exceeded" not in page


def test_the_documented_subscription_status_template(user, example_templates):
    assert "have an active subscription" in render(
        "billing/examples/subscription_status.html", user
    )
    subscription = factories.subscription(user=user, plan=factories.plan("pro", name="Pro"))
    page = render("billing/examples/subscription_status.html", user, subscription=subscription)
    assert "Plan: Pro" in page
    assert "Status: active" in page
    renews = subscription.current_period_end.strftime("%B %-d, %Y")
    assert f"Renews: {renews}" in page
    assert 'href="/billing/portal/"' in page


def test_the_documented_pricing_template(user, example_templates):
    factories.plan("pro", name="Pro", amount=2900, is_popular=True)
    factories.plan("enterprise", name="Enterprise", amount=9950, limits={"api_calls": 100000})
    plans = PlanConfiguration.objects.select_related("stripe_price")
    page = render("billing/examples/pricing.html", user, plans=plans)
    assert "$29/mo" in page and "$99.5/mo" in page
    assert 'class="plan popular"' in page
    assert "✓ Advanced_Analytics" in page
    assert "10000 Api_Calls" in page
    assert f'value="{plans[0].stripe_price.id}"' in page


def test_the_project_pages_render_the_subscription(client, user):
    factories.subscription(user=user, plan=factories.plan("pro", name="Pro"))
    client.force_login(user)
    dashboard = client.get("/dashboard/").content.decode()
    assert "Your plan: Pro" in dashboard and "Renews on" in dashboard
    billing = client.get("/billing/subscription/").content.decode()
    assert "Pro" in billing and ">Active<" in billing
