"""Reading Stripe references the way webhooks deliver them (both modes)."""

from __future__ import annotations

import pytest

from apps.billing.stripe_objects import invoice_subscription_id, object_id
from tests.stripe_events import load_fixture


@pytest.mark.parametrize(
    ("value", "expected"),
    [("cus_1", "cus_1"), ({"id": "cus_1", "object": "customer"}, "cus_1"), (None, ""), ({}, "")],
)
def test_object_id_reads_ids_and_expanded_objects(value, expected):
    assert object_id(value) == expected


def test_an_invoice_names_its_subscription_under_parent_today():
    invoice = load_fixture("invoice")
    assert "subscription" not in invoice  # gone from the top level since 2025-03-31
    assert invoice_subscription_id(invoice) == "sub_1QtestSubscription01"


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        ({"subscription": "sub_legacy"}, "sub_legacy"),  # API versions before 2025-03-31
        ({"parent": None, "subscription": {"id": "sub_expanded"}}, "sub_expanded"),
        ({"parent": {"type": "quote_details", "subscription_details": None}}, ""),
        ({"parent": "not an object"}, ""),
        ({}, ""),
    ],
)
def test_older_and_partial_invoice_shapes(invoice, expected):
    assert invoice_subscription_id(invoice) == expected
