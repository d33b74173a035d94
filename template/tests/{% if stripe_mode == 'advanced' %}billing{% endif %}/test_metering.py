"""Usage of metered plans reaches the plan's Stripe Billing Meter through the outbox:
never during a request, exactly once, whatever fails in between."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from io import StringIO

import pytest
import stripe
from django.core.management import call_command
from django.utils import timezone

from apps.billing.metering import build_reports, flush_usage, send_report
from apps.billing.models import MeterReport, UsageRecord
from apps.billing.utils import get_active_subscription, record_usage

from . import factories

pytestmark = pytest.mark.django_db
DEAD_API = "http://127.0.0.1:9"  # nothing listens on the discard port


@pytest.fixture
def metered(user, stripe_fake, catalog):
    created = factories.stripe_subscription(user=user, plan=catalog["usage"])
    stripe_fake.deliver()
    subscription = get_active_subscription(user)
    assert subscription is not None and subscription.id == created.id
    return subscription


def billed(stripe_fake, catalog, subscription) -> float:
    """What the meter aggregated for the customer over the last hour (Stripe's own view)."""
    now = int(time.time()) // 60 * 60
    summaries = stripe.billing.Meter.list_event_summaries(
        catalog.meter_id,
        customer=subscription.customer_id,
        start_time=now - 3600,
        end_time=now + 120,
        api_key=stripe_fake.api_key,
    )
    return sum(summary.aggregated_value for summary in summaries.data)


def test_recording_usage_never_calls_stripe(monkeypatch, metered):
    monkeypatch.setattr(stripe, "api_base", DEAD_API)
    monkeypatch.setattr(stripe, "meter_events_api_base", DEAD_API)
    record = record_usage(metered, metric="api_calls", quantity=5)
    assert record.meter_event_name == "api_calls"
    assert record.stripe_customer_id == metered.customer_id
    assert record.report is None


def test_flushing_reports_the_sum_once(stripe_fake, catalog, metered):
    for quantity in (5, 7, 1):
        record_usage(metered, metric="api_calls", quantity=quantity)
    result = flush_usage()
    assert (result.reports_created, result.sent, result.failed) == (1, 1, 0)
    assert billed(stripe_fake, catalog, metered) == 13
    report = MeterReport.objects.get()
    assert report.value == 13 and report.sent_at is not None
    assert set(UsageRecord.objects.values_list("report", flat=True)) == {report.pk}

    assert flush_usage() == type(result)(0, 0, 0)  # re-running reports nothing twice
    record_usage(metered, metric="api_calls", quantity=2)
    flush_usage()
    assert billed(stripe_fake, catalog, metered) == 15


def test_a_gated_use_is_billed_only_once_its_view_succeeded(stripe_fake, catalog, metered):
    from apps.billing import usage

    kept = usage.reserve(subscription=metered, metric="api_calls", quantity=4, limit=None)
    given_back = usage.reserve(subscription=metered, metric="api_calls", quantity=6, limit=None)
    assert build_reports() == []  # reserved, not yet done: nothing to bill
    usage.commit(kept, subscription=metered)
    usage.release(given_back)
    assert flush_usage().sent == 1
    assert billed(stripe_fake, catalog, metered) == 4
    assert list(UsageRecord.objects.values_list("quantity", flat=True)) == [4]


def test_usage_of_other_metrics_is_not_billed(stripe_fake, catalog, metered):
    record_usage(metered, metric="exports", quantity=3)
    assert flush_usage().reports_created == 0
    assert billed(stripe_fake, catalog, metered) == 0


def test_plans_without_a_meter_report_nothing(user, stripe_fake, catalog):
    factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()
    record_usage(get_active_subscription(user), metric="api_calls", quantity=3)
    assert flush_usage().reports_created == 0
    assert not MeterReport.objects.exists()


def test_a_failed_send_is_retried_with_the_same_identifier(
    monkeypatch, stripe_fake, catalog, metered, caplog
):
    record_usage(metered, metric="api_calls", quantity=4)
    with monkeypatch.context() as patched, caplog.at_level(logging.WARNING):
        patched.setattr(stripe, "api_base", DEAD_API)
        patched.setattr(stripe, "meter_events_api_base", DEAD_API)
        result = flush_usage()
    assert (result.sent, result.failed) == (0, 1)
    report = MeterReport.objects.get()
    assert report.sent_at is None and report.attempts == 1
    # Staff see which error kept it unsent, on the row and in the log.
    assert report.last_error.startswith("APIConnectionError: ")
    assert f"Meter report {report.identifier} not sent: {report.last_error}" in caplog.messages
    identifier = report.identifier

    record_usage(metered, metric="api_calls", quantity=1)
    result = flush_usage()
    assert (result.reports_created, result.sent, result.failed) == (1, 2, 0)
    assert MeterReport.objects.get(identifier=identifier).sent_at is not None
    assert billed(stripe_fake, catalog, metered) == 5


def billed_between(stripe_fake, catalog, subscription, start: int, end: int) -> float:
    summaries = stripe.billing.Meter.list_event_summaries(
        catalog.meter_id,
        customer=subscription.customer_id,
        start_time=start,
        end_time=end,
        api_key=stripe_fake.api_key,
    )
    return sum(summary.aggregated_value for summary in summaries.data)


def test_usage_is_billed_at_the_time_it_happened(stripe_fake, catalog, metered):
    """Reported late (a flush that could not run for hours), usage still counts when it was
    used: at a period's end, in the period it belongs to."""
    record_usage(metered, metric="api_calls", quantity=9)
    used_at = timezone.now() - timedelta(hours=3)
    UsageRecord.objects.update(timestamp=used_at)
    assert flush_usage().sent == 1
    hour = int(used_at.timestamp()) // 3600 * 3600
    assert billed_between(stripe_fake, catalog, metered, hour, hour + 3600) == 9
    assert billed(stripe_fake, catalog, metered) == 0  # nothing in the last hour


@pytest.fixture
def second_metered(django_user_model, stripe_fake, catalog):
    other = django_user_model.objects.create_user(email="second@example.com")
    factories.stripe_subscription(user=other, plan=catalog["usage"])
    stripe_fake.deliver()
    return get_active_subscription(other)


def test_send_report_sends_the_report_asked_for_and_only_once(
    stripe_fake, catalog, metered, second_metered
):
    record_usage(metered, metric="api_calls", quantity=2)
    record_usage(second_metered, metric="api_calls", quantity=5)
    first, second = sorted(build_reports(), key=lambda report: report.value)
    assert send_report(second.pk) is True
    first.refresh_from_db()
    assert first.sent_at is None  # not asked for: left for its own send
    assert billed(stripe_fake, catalog, second_metered) == 5
    assert billed(stripe_fake, catalog, metered) == 0
    assert send_report(second.pk) is None  # sent already: nothing to do
    assert billed(stripe_fake, catalog, second_metered) == 5


def test_each_failed_report_and_attempt_is_counted(
    monkeypatch, stripe_fake, catalog, metered, second_metered
):
    record_usage(metered, metric="api_calls", quantity=2)
    record_usage(second_metered, metric="api_calls", quantity=5)
    with monkeypatch.context() as patched:
        patched.setattr(stripe, "meter_events_api_base", DEAD_API)
        patched.setattr(stripe, "api_base", DEAD_API)
        assert flush_usage().failed == 2
        assert flush_usage().failed == 2
    assert list(MeterReport.objects.values_list("attempts", flat=True)) == [2, 2]
    assert flush_usage().sent == 2
    assert list(MeterReport.objects.values_list("attempts", flat=True)) == [3, 3]


def test_a_flush_sends_at_most_its_limit(stripe_fake, catalog, metered, second_metered):
    """A long backlog is sent in bounded batches: the rest on the next flush."""
    record_usage(metered, metric="api_calls", quantity=2)
    record_usage(second_metered, metric="api_calls", quantity=5)
    result = flush_usage(limit=1)
    assert (result.reports_created, result.sent) == (1, 1)
    result = flush_usage(limit=1)
    assert (result.reports_created, result.sent) == (1, 1)
    assert billed(stripe_fake, catalog, metered) == 2
    assert billed(stripe_fake, catalog, second_metered) == 5


def test_a_report_that_reached_stripe_but_was_not_marked_is_not_counted_twice(
    stripe_fake, catalog, metered
):
    record_usage(metered, metric="api_calls", quantity=6)
    (report,) = build_reports()
    # The first attempt reached Stripe, then the process died before marking it sent.
    stripe.billing.MeterEvent.create(
        event_name=report.event_name,
        identifier=report.identifier,
        payload={"stripe_customer_id": report.stripe_customer_id, "value": str(report.value)},
        timestamp=int(report.timestamp.timestamp()),
        api_key=stripe_fake.api_key,
    )
    assert flush_usage().sent == 1
    assert billed(stripe_fake, catalog, metered) == 6


def test_the_flush_command(stripe_fake, catalog, metered):
    record_usage(metered, metric="api_calls", quantity=3)
    out = StringIO()
    call_command("billing_flush_outbox", stdout=out)
    assert "1 new meter reports, 1 sent, 0 failed" in out.getvalue()
    assert billed(stripe_fake, catalog, metered) == 3


def test_the_flush_command_without_stripe_keeps_usage_pending(settings, metered):
    record_usage(metered, metric="api_calls", quantity=3)
    settings.STRIPE_SECRET_KEY = ""
    err = StringIO()
    call_command("billing_flush_outbox", stdout=StringIO(), stderr=err)
    assert "Stripe is not configured" in err.getvalue()
    assert UsageRecord.objects.get().report is None
