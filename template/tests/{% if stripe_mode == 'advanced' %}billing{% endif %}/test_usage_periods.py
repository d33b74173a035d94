"""When a subscription's usage period moves (advanced mode): a paid period invoice (created or
cycle) starts the period at the invoice's period end, and the counters start at zero; other
invoices, invoices of unknown subscriptions and older invoices move nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from djstripe.models import Event

from apps.billing import usage
from apps.billing.webhook_handlers import handle_invoice_paid

from . import factories

pytestmark = pytest.mark.django_db
START = 1_767_225_600  # 2026-01-01
MONTH = 30 * 86_400


def at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def paid(subscription_id: str, *, reason: str = "subscription_cycle", **fields: Any) -> Event:
    """An invoice.paid event as dj-stripe hands it to the receivers."""
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "billing_reason": reason,
        "period_end": START + MONTH,
        "parent": {"subscription_details": {"subscription": subscription_id}},
        **fields,
    }
    return Event(
        id="evt_paid", type="invoice.paid", data={"object": invoice}, created=at(START + 2 * MONTH)
    )


def period_start(subscription: Any) -> datetime:
    """The subscription's usage period start, as a fresh read of it sees it."""
    return usage.period_start_of(type(subscription).objects.get(pk=subscription.pk))


def used(subscription: Any) -> int:
    return usage.current_usage(type(subscription).objects.get(pk=subscription.pk), "api_calls")


@pytest.fixture
def subscription(user: Any) -> Any:
    sub = factories.subscription(user=user, period_start=START)
    usage.record_usage(sub, "api_calls", 4)
    return sub


@pytest.mark.parametrize("reason", ["subscription_cycle", "subscription_create"])
def test_a_paid_period_invoice_starts_a_new_period_at_zero(subscription: Any, reason: str) -> None:
    handle_invoice_paid(sender=Event, event=paid(subscription.id, reason=reason))
    assert period_start(subscription) == at(START + MONTH)
    assert used(subscription) == 0
    usage.record_usage(type(subscription).objects.get(pk=subscription.pk), "api_calls", 1)
    assert used(subscription) == 1


def test_without_a_period_end_the_event_time_is_the_start(subscription: Any) -> None:
    handle_invoice_paid(sender=Event, event=paid(subscription.id, period_end=None))
    assert period_start(subscription) == at(START + 2 * MONTH)


@pytest.mark.parametrize(
    ("subscription_id", "fields"),
    [
        ("SUB", {"billing_reason": "subscription_update"}),
        ("SUB", {"billing_reason": "manual"}),
        ("", {}),
        ("sub_not_here", {}),
    ],
    ids=["proration", "one-off", "no-subscription", "unknown-subscription"],
)
def test_other_invoices_move_nothing(
    subscription: Any, subscription_id: str, fields: dict[str, Any]
) -> None:
    event = paid(subscription.id if subscription_id == "SUB" else subscription_id, **fields)
    if not subscription_id:
        event.data["object"]["parent"] = None
    handle_invoice_paid(sender=Event, event=event)
    assert period_start(subscription) == at(START)
    assert used(subscription) == 4


def test_an_invoice_of_a_subscription_not_synced_yet_is_skipped_with_a_warning(
    subscription: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="apps.billing.webhook_handlers"):
        handle_invoice_paid(sender=Event, event=paid("sub_not_here"))
        handle_invoice_paid(sender=Event, event=paid(subscription.id))  # known: no warning
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["Subscription sub_not_here is not in the database; event skipped"]
    assert period_start(subscription) == at(START + MONTH)


def test_an_older_invoice_never_moves_the_period_back(subscription: Any) -> None:
    handle_invoice_paid(sender=Event, event=paid(subscription.id, period_end=START + 2 * MONTH))
    handle_invoice_paid(sender=Event, event=paid(subscription.id, period_end=START + MONTH))
    assert period_start(subscription) == at(START + 2 * MONTH)
