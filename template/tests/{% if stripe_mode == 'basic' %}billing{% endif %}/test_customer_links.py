"""The link between a user and their Stripe customer (basic mode): the first link of a user is
the one kept, a customer already someone else's stays theirs, and a customer Stripe no longer
has is unlinked (not deleted) so its user can start over while its history stays on record."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.billing.customers import link_customer, unlink_customer
from apps.billing.models import StripeCustomer

pytestmark = pytest.mark.django_db

MAY_1 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_users_first_customer_is_kept(user: Any, caplog: pytest.LogCaptureFixture) -> None:
    first = link_customer(user=user, stripe_customer_id="cus_First")
    with caplog.at_level(logging.WARNING, logger="apps.billing.customers"):
        again = link_customer(user=user, stripe_customer_id="cus_Second")

    assert again.pk == first.pk
    assert again.stripe_customer_id == "cus_First"
    assert list(StripeCustomer.objects.values_list("stripe_customer_id", "user")) == [
        ("cus_First", user.pk)
    ]
    # Staff can tell from the log which customer was refused, and for whom.
    assert f"User {user.pk} already has Stripe customer cus_First; not relinking to cus_Second" in (
        caplog.text
    )


def test_linking_the_same_customer_again_changes_nothing(
    user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = link_customer(user=user, stripe_customer_id="cus_Same")
    with caplog.at_level(logging.WARNING, logger="apps.billing.customers"):
        again = link_customer(user=user, stripe_customer_id="cus_Same")

    assert again.pk == first.pk
    assert StripeCustomer.objects.count() == 1
    assert caplog.records == []


def test_a_customer_linked_to_someone_else_stays_theirs(user: Any, other_user: Any) -> None:
    unlink_customer("cus_Gone", at=MAY_1)  # an unlinked row, with no user, is on record too
    theirs = link_customer(user=other_user, stripe_customer_id="cus_Theirs")

    answer = link_customer(user=user, stripe_customer_id="cus_Theirs")

    assert answer.pk == theirs.pk
    assert answer.user == other_user
    assert not StripeCustomer.objects.filter(user=user).exists()


def test_unlinking_keeps_the_row_and_who_it_belonged_to(
    user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    link_customer(user=user, stripe_customer_id="cus_Leaving")

    with caplog.at_level(logging.INFO, logger="apps.billing.customers"):
        row = unlink_customer("cus_Leaving", at=MAY_1)

    assert row is not None
    stored = StripeCustomer.objects.get(stripe_customer_id="cus_Leaving")
    for customer in (row, stored):
        assert (customer.user, customer.former_user, customer.unlinked_at) == (None, user, MAY_1)
    assert f"Unlinked Stripe customer cus_Leaving from user {user.pk}" in caplog.messages


def test_unlinking_twice_keeps_the_first_date_and_the_former_user(user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_Twice")
    unlink_customer("cus_Twice", at=MAY_1)

    row = unlink_customer("cus_Twice", at=MAY_1 + timedelta(days=3))

    assert row is not None
    stored = StripeCustomer.objects.get(stripe_customer_id="cus_Twice")
    for customer in (row, stored):
        assert (customer.user, customer.former_user, customer.unlinked_at) == (None, user, MAY_1)


def test_an_unknown_customer_is_recorded_as_unlinked(user: Any) -> None:
    row = unlink_customer("cus_Unknown", at=MAY_1)
    again = unlink_customer("cus_Unknown", at=MAY_1 + timedelta(hours=1))

    assert row is not None and again is not None
    assert again.pk == row.pk
    stored = StripeCustomer.objects.get()
    assert (stored.stripe_customer_id, stored.user, stored.former_user) == (
        "cus_Unknown",
        None,
        None,
    )
    assert stored.unlinked_at == MAY_1


def test_unlinking_without_a_customer_id_does_nothing(user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_Kept")

    assert unlink_customer("", at=MAY_1) is None
    assert list(StripeCustomer.objects.values_list("stripe_customer_id", "user")) == [
        ("cus_Kept", user.pk)
    ]


def test_unlinking_without_a_time_records_now(user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_Now")
    before = timezone.now()

    unlink_customer("cus_Now")

    unlinked_at = StripeCustomer.objects.get().unlinked_at
    assert unlinked_at is not None and before <= unlinked_at <= timezone.now()


def test_an_unlinked_user_starts_over_with_a_new_customer(user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_Old")
    unlink_customer("cus_Old", at=MAY_1)

    new = link_customer(user=user, stripe_customer_id="cus_New")

    assert (new.stripe_customer_id, new.user, new.unlinked_at) == ("cus_New", user, None)
    old = StripeCustomer.objects.get(stripe_customer_id="cus_Old")
    assert (old.user, old.former_user) == (None, user)
