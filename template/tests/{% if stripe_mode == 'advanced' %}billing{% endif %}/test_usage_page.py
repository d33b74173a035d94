"""The usage page and the example gated view (/reports/) of advanced mode."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.billing.models import UsageCounter

from . import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_the_usage_page_shows_use_limit_and_period(signed_in, user):
    pro = factories.subscription(user=user, plan=factories.plan("pro", name="Pro"))
    UsageCounter.objects.create(
        subscription_id=pro.id,
        metric="api_calls",
        period_start=pro.billing_metadata.usage_period_start,
        count=8500,
    )
    html = signed_in.get(reverse("billing:usage")).content.decode()
    assert "API calls" in html and "8,500" in html and "10,000" in html
    assert "close to your limit" in html  # 85% is past BILLING_USAGE_WARNING_PERCENT
    assert "Counts start again from zero on" in html
    assert "None" not in html


def test_an_unlimited_metered_plan_reads_unlimited_with_its_unit_price(signed_in, user):
    plan = factories.plan("usage", name="Pay as you go", limits={"api_calls": None})
    factories.subscription(user=user, plan=plan)
    html = signed_in.get(reverse("billing:usage")).content.decode()
    assert "Unlimited" in html and "None" not in html
    assert "<progress" not in html


def test_the_usage_page_without_a_plan(signed_in):
    html = signed_in.get(reverse("billing:usage")).content.decode()
    assert "no active plan" in html


def test_usage_is_linked_from_the_navigation_and_the_dashboard(signed_in):
    html = signed_in.get(reverse("dashboard")).content.decode()
    assert html.count(f'href="{reverse("billing:usage")}"') == 2
    assert f'href="{reverse("reports")}"' in html


def test_reports_count_a_use_and_stop_at_the_limit(signed_in, user):
    pro = factories.subscription(user=user, plan=factories.plan("pro", limits={"api_calls": 2}))
    assert signed_in.get(reverse("reports")).status_code == 200
    page = signed_in.get(reverse("reports")).content.decode()
    assert "0 left this billing period" in page
    denied = signed_in.get(reverse("reports"))
    assert denied.status_code == 429
    assert "reached your plan's limit" in denied.content.decode()
    counter = UsageCounter.objects.get(subscription_id=pro.id, metric="api_calls")
    assert counter.count == 2


def test_reports_send_a_plan_without_the_feature_to_pricing(signed_in, user):
    factories.subscription(user=user, plan=factories.plan("basic", features={}))
    response = signed_in.get(reverse("reports"))
    assert response.status_code == 302 and response["Location"] == reverse("billing:pricing")
