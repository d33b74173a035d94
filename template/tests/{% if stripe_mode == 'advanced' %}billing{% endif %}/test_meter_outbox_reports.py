"""How the usage outbox groups and sends meter reports (advanced mode): one report per customer
and meter with the sum of its uses, stamped with its latest use; at most `limit` uses claimed
per flush; a report older than Stripe accepts is kept unsent with the reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.billing.metering import MAX_EVENT_AGE_DAYS, build_reports, flush_usage
from apps.billing.models import MeterReport, UsageRecord
from apps.billing.utils import get_active_subscription, record_usage

from . import factories

pytestmark = pytest.mark.django_db


def metered_subscription(user: Any, stripe_fake: Any, catalog: Any) -> Any:
    factories.stripe_subscription(user=user, plan=catalog["usage"])
    stripe_fake.deliver()
    return get_active_subscription(user)


def test_each_customer_gets_a_report_of_their_own_uses(
    user: Any, other_user: Any, stripe_fake: Any, catalog: Any
) -> None:
    mine = metered_subscription(user, stripe_fake, catalog)
    theirs = metered_subscription(other_user, stripe_fake, catalog)
    for subscription, quantities in ((mine, (2, 3)), (theirs, (10,))):
        for quantity in quantities:
            record_usage(subscription, metric="api_calls", quantity=quantity)
    result = flush_usage()
    assert (result.reports_created, result.sent, result.failed) == (2, 2, 0)
    reports = {r.stripe_customer_id: r for r in MeterReport.objects.all()}
    assert {customer: r.value for customer, r in reports.items()} == {
        mine.customer_id: 5,
        theirs.customer_id: 10,
    }
    for report in reports.values():
        assert report.event_name == "api_calls"
        assert report.identifier.startswith("usage_")
        assert (report.attempts, report.last_error) == (1, "")
    assert len({r.identifier for r in reports.values()}) == 2


def test_a_report_is_stamped_with_its_latest_use(user: Any, stripe_fake: Any, catalog: Any) -> None:
    subscription = metered_subscription(user, stripe_fake, catalog)
    now = timezone.now()
    for quantity, minutes_ago in ((1, 30), (1, 5), (1, 50)):
        record = record_usage(subscription, metric="api_calls", quantity=quantity)
        UsageRecord.objects.filter(pk=record.pk).update(
            timestamp=now - timedelta(minutes=minutes_ago)
        )
    (report,) = build_reports()
    assert report.timestamp == now - timedelta(minutes=5)


def test_a_flush_claims_at_most_its_limit_of_uses(
    user: Any, stripe_fake: Any, catalog: Any
) -> None:
    subscription = metered_subscription(user, stripe_fake, catalog)
    for quantity in (1, 2, 4):
        record_usage(subscription, metric="api_calls", quantity=quantity)
    (first,) = build_reports(limit=2)
    assert first.value == 3
    assert UsageRecord.objects.filter(report__isnull=True).count() == 1
    (second,) = build_reports(limit=2)
    assert second.value == 4
    assert build_reports(limit=2) == []


def test_a_report_older_than_stripe_accepts_is_kept_unsent(
    user: Any, stripe_fake: Any, catalog: Any
) -> None:
    subscription = metered_subscription(user, stripe_fake, catalog)
    record_usage(subscription, metric="api_calls", quantity=3)
    (report,) = build_reports()
    too_old = timezone.now() - timedelta(days=MAX_EVENT_AGE_DAYS, minutes=1)
    MeterReport.objects.filter(pk=report.pk).update(timestamp=too_old)
    result = flush_usage()
    assert (result.reports_created, result.sent, result.failed) == (0, 0, 1)
    report.refresh_from_db()
    assert report.sent_at is None
    assert report.attempts == 1
    assert report.last_error == "Older than Stripe accepts for meter events (35 days)."
