"""Many people accepting invitations to one per-seat team at the same moment, on a real
PostgreSQL server (SQLite serialises writers, so it cannot show the race): the quantity is
set to the member count under the team's lock, never incremented, so it ends equal to the
members. Run with DATABASE_URL=postgres://...; skipped otherwise."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.billing import team_billing
from tests.concurrency import in_parallel, needs_postgresql
from tests.teams_support import person, remote_quantity, send_invitation, subscribe_team, team_of

pytestmark = [needs_postgresql, pytest.mark.django_db(transaction=True)]


def test_ten_concurrent_acceptances_leave_eleven_seats_for_a_team_of_one(
    billing_stripe, team_plans
):
    owner = person("owner@example.com")
    team = team_of(owner)
    subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    invitees = [person(f"member{i}@example.com") for i in range(10)]
    tokens = [send_invitation(owner, team, p.user.email) for p in invitees]

    def accept(i: int) -> int:
        url = reverse("teams:invitation", args=[tokens[i]])
        return int(invitees[i].client.post(url).status_code)

    assert in_parallel(10, accept) == [302] * 10
    assert team.members.count() == 11
    assert remote_quantity(team) == 11
    billing_stripe.deliver()
    assert team_billing.seats_billed(team_billing.get_team_subscription(team)) == 11
