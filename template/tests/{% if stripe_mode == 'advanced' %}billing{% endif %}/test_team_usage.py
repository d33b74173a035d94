"""Usage limits of a team plan (advanced mode): counted per team subscription, so the team's
members share one allowance, and a member's own plan keeps its own."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse

from apps.billing.decorators import usage_limit
from apps.billing.selectors import get_active_subscription
from apps.billing.usage import current_usage
from tests.teams_support import gate_status, join, person, subscribe_team, team_of

pytestmark = pytest.mark.django_db


@usage_limit("api_calls", limit=3)
def api_call(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def test_a_teams_members_share_its_usage_allowance(billing_stripe, team_plans):
    owner, bob = person("owner@example.com"), person("bob@example.com")
    team = team_of(owner)
    join(owner, team, bob)
    subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    statuses = [gate_status(api_call, user) for user in (owner.user, bob.user, bob.user)]
    assert statuses == [200, 200, 200]
    assert gate_status(api_call, owner.user) == 429  # the team's 3 calls are used
    subscription = get_active_subscription(bob.user)
    assert current_usage(subscription, "api_calls") == 3
