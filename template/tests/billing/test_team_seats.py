"""Team plans and seats in both billing modes, against the offline Stripe over HTTP with
webhooks signed by a real HMAC: a team bought by its owner as its own customer, members who
get the team's plan, a per-seat quantity that follows the members with exact prorations, the
portal's changes, the nightly repair, and a capped plan's limit.

`billing_stripe` and `team_plans` come from each mode's conftest: Team is per seat (1,500 a
seat a month), Small team allows 3 members (Pro allows more)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from billiard.einfo import ExceptionInfo
from celery.app.trace import build_tracer
from celery.exceptions import Retry
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from apps.billing import tasks, team_billing
from apps.billing.selectors import get_active_subscription, plan_slug_of
from apps.teams.models import Team
from config.celery import app as celery_app
from tests.teams_support import (
    CARD_OK,
    Person,
    accept,
    committed,
    gate_status,
    join,
    person,
    remote_quantity,
    send_invitation,
    subscribe_team,
    team_of,
)

from . import example_views

pytestmark = pytest.mark.django_db
DAY = 86_400


def proration_lines(invoice: Any) -> list[dict[str, Any]]:
    lines = stripe.Invoice.list_lines(invoice["id"], limit=100)
    return [line.to_dict() for line in lines.data if _is_proration(line.to_dict())]


def _is_proration(line: dict[str, Any]) -> bool:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    return bool(details.get("proration"))


@pytest.fixture
def owner(billing_stripe: Any) -> Person:
    return person("owner@example.com")


def test_the_team_pays_as_its_own_customer_and_members_get_its_plan(
    billing_stripe, team_plans, owner
):
    team = team_of(owner)
    bob = person("bob@example.com")
    join(owner, team, bob)
    subscription = subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    # Checkout started with one seat per member; the customer is the team's, not the owner's.
    assert remote_quantity(team) == 2
    customer = Team.objects.get(pk=team.pk).stripe_subscription["customer"]
    assert stripe.Customer.retrieve(customer)["metadata"]["team_id"] == str(team.pk)
    assert team_billing.seats_billed(subscription) == 2
    for member in (owner, bob):
        granted = get_active_subscription(member.user)
        assert granted is not None and plan_slug_of(granted) == "team"
        # The team's plan is the one the gates read.
        assert gate_status(example_views.premium_feature, member.user) == 200
        assert gate_status(example_views.pro_only_feature, member.user) == 403
    outsider = person("eve@example.com")
    assert gate_status(example_views.premium_feature, outsider.user) == 403
    # The owner has no personal billing: the personal pages are untouched.
    from apps.billing.selectors import get_unended_subscription, stripe_customer_id_of

    assert get_unended_subscription(owner.user) is None
    assert stripe_customer_id_of(owner.user) is None


def test_a_personal_plan_grants_access_before_a_teams(billing_stripe, team_plans, owner):
    team = team_of(owner)
    subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    response = owner.client.post(reverse("billing:checkout"), {"price_id": billing_stripe.price_id})
    paid = billing_stripe.fake.submit_checkout(response["Location"], CARD_OK)
    owner.client.get(paid.location)
    billing_stripe.deliver()
    assert plan_slug_of(get_active_subscription(owner.user)) == "pro"


def test_joining_and_leaving_set_the_quantity_and_the_next_invoice_prorates_exactly(
    billing_stripe, team_plans, owner
):
    fake = billing_stripe.fake
    team = team_of(owner)
    subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    item = Team.objects.get(pk=team.pk).stripe_subscription["items"]["data"][0]
    start, end = item["current_period_start"], item["current_period_end"]
    seat = team_plans.seat_amount

    fake.advance(days=10)
    bob = person("bob@example.com")
    joined_at = fake.now()
    join(owner, team, bob)
    assert gate_status(example_views.premium_feature, bob.user) == 200
    billing_stripe.deliver()
    assert remote_quantity(team) == 2
    assert team_billing.seats_billed(team_billing.get_team_subscription(team)) == 2

    fake.advance(days=5)
    left_at = fake.now()
    with committed():
        response = owner.client.post(reverse("teams:remove_member", args=[team.slug, bob.user.pk]))
    assert response.status_code == 302
    billing_stripe.deliver()
    assert remote_quantity(team) == 1
    # A removed member loses the team's access at once.
    assert get_active_subscription(bob.user) is None
    assert gate_status(example_views.premium_feature, bob.user) == 403

    # The renewal invoice carries the prorations (create_prorations: on the next invoice).
    subscription_id = Team.objects.get(pk=team.pk).stripe_subscription.id
    fake.advance(seconds=end - fake.now() + 60)
    billing_stripe.deliver()
    invoices = stripe.Invoice.list(subscription=subscription_id, limit=10).data
    renewal = next(inv for inv in invoices if inv["billing_reason"] == "subscription_cycle")
    lines = proration_lines(renewal)

    def expected(at: int, old: int, new: int) -> list[int]:
        left = (end - at) / (end - start)
        return sorted([-round(seat * old * left), round(seat * new * left)])

    at_join = sorted(line["amount"] for line in lines if line["period"]["start"] < left_at - 60)
    at_leave = sorted(line["amount"] for line in lines if line["period"]["start"] >= left_at - 60)
    joined = min(line["period"]["start"] for line in lines)
    assert joined_at <= joined <= joined_at + 5
    assert at_join == expected(joined, 1, 2)
    left = max(line["period"]["start"] for line in lines)
    assert left_at <= left <= left_at + 5
    assert at_leave == expected(left, 2, 1)
    # The next period is billed for the one seat left, plus the prorations.
    assert renewal["total"] == seat + sum(at_join) + sum(at_leave)


def test_members_added_or_deleted_outside_the_pages_change_the_seats_too(
    billing_stripe, team_plans, owner
):
    team = team_of(owner)
    subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    bob, carol = person("bob@example.com"), person("carol@example.com")
    with committed():
        team.members.add(bob.user, carol.user)  # as the documented pattern does
    assert remote_quantity(team) == 3
    with committed():
        carol.user.delete()  # a deleted user's membership goes with them
    assert remote_quantity(team) == 2


def test_a_quantity_changed_in_the_portal_is_reflected_from_its_webhook(
    billing_stripe, team_plans, owner
):
    team = team_of(owner)
    subscription = subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    # A portal configured to let customers change the quantity (Stripe's default does not).
    [portal_config] = stripe.billing_portal.Configuration.list(is_default=True).data
    stripe.billing_portal.Configuration.modify(
        portal_config.id,
        features={"subscription_update": {"default_allowed_updates": ["price", "quantity"]}},
    )
    portal = owner.client.post(reverse("teams:billing_portal", args=[team.slug]))
    assert portal.status_code == 302 and "/p/session/" in portal["Location"]
    path = urlsplit(portal["Location"]).path
    sub_id = Team.objects.get(pk=team.pk).stripe_subscription.id
    changed = billing_stripe.fake.page(
        f"{path}/subscriptions/{sub_id}/update",
        {"price": team_plans.seat_price_id, "quantity": "4"},
    )
    assert changed.status == 303, changed
    billing_stripe.deliver()
    subscription = team_billing.get_team_subscription(team)
    assert team_billing.seats_billed(subscription) == 4
    page = owner.client.get(reverse("teams:billing", args=[team.slug])).content.decode()
    assert "4 seats billed for 1 member" in page
    # The nightly reconciliation sets the seats back to the members.
    tasks.reconcile_subscriptions()
    assert remote_quantity(team) == 1


def test_a_stripe_failure_leaves_the_seats_to_the_nightly_reconciliation(
    billing_stripe, team_plans, owner, monkeypatch
):
    team = team_of(owner)
    subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    bob = person("bob@example.com")
    token = send_invitation(owner, team, bob.user.email)
    with monkeypatch.context() as down:
        down.setattr(stripe, "api_base", "http://127.0.0.1:9")  # Stripe unreachable
        assert accept(bob, token).status_code == 302
    assert team.members.count() == 2  # the member joined; the seat waits
    assert remote_quantity(team) == 1
    tasks.reconcile_subscriptions()
    assert remote_quantity(team) == 2
    billing_stripe.deliver()
    assert team_billing.seats_billed(team_billing.get_team_subscription(team)) == 2


def test_a_capped_plan_refuses_invitations_beyond_its_limit_naming_a_bigger_plan(
    billing_stripe, team_plans, owner
):
    team = team_of(owner)
    subscribe_team(billing_stripe, owner, team, team_plans.small_price_id)
    send_invitation(owner, team, "b@example.com")
    send_invitation(owner, team, "c@example.com")  # 1 member + 2 invitations: the cap
    response = owner.client.post(
        reverse("teams:invite", args=[team.slug]), {"email": "d@example.com", "role": "member"}
    )
    message = owner.client.get(response["Location"]).content.decode()
    assert "The Small team plan allows up to 3 members" in message
    assert "The Pro plan allows" in message
    assert not team.invitations.filter(email="d@example.com").exists()
    # Not per seat: the quantity stays 1 whoever joins.
    carol = person("c@example.com")
    join_token = send_invitation(owner, team, carol.user.email)
    assert accept(carol, join_token).status_code == 302
    assert remote_quantity(team) == 1


def run_as_a_worker(name: str, args: list[Any], retries: int = 0) -> Any:
    """Run a task as a worker runs its message (not in-process): a retry raises and queues."""
    task = celery_app.tasks[name]
    trace = build_tracer(name, task, eager=False, propagate=False, app=celery_app)
    request = {"id": str(uuid.uuid4()), "retries": retries, "delivery_info": {}}
    outcome = trace(request["id"], args, {}, request).retval
    exc = outcome.exception if isinstance(outcome, ExceptionInfo) else outcome
    return getattr(exc, "exc", exc)  # billiard wraps exceptions with their traceback


def queued() -> list[tuple[str, list[Any], int]]:
    """Take the messages published to the in-memory broker: (task, args, retries)."""
    taken = []
    with celery_app.connection_for_read() as connection:
        queue = connection.SimpleQueue(celery_app.conf.task_default_queue, no_ack=True)
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    return taken
                args, _kwargs, _embed = message.payload
                taken.append((message.headers["task"], args, message.headers.get("retries", 0)))
        finally:
            queue.close()


def test_a_seat_change_stripe_refused_is_retried_by_its_task(
    billing_stripe, team_plans, owner, monkeypatch
):
    team = team_of(owner)
    subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    bob = person("bob@example.com")
    token = send_invitation(owner, team, bob.user.email)
    celery_app.conf.task_always_eager = False  # as with a broker: tasks are queued
    queued()
    try:
        assert accept(bob, token).status_code == 302
        [(name, args, _)] = queued()
        assert name == "apps.billing.tasks.sync_seats"
        with monkeypatch.context() as down:
            down.setattr(stripe, "api_base", "http://127.0.0.1:9")  # Stripe unreachable
            assert isinstance(run_as_a_worker(name, args), Retry)
        [(again, again_args, retries)] = queued()  # queued again, with a delay
        assert (again, again_args, retries) == (name, args, 1)
        assert run_as_a_worker(again, again_args, retries) == "1 → 2"
    finally:
        celery_app.conf.task_always_eager = True
        queued()
    assert remote_quantity(team) == 2


def test_the_seat_proration_behaviour_is_a_setting(billing_stripe, team_plans, owner, settings):
    settings.TEAMS_SEAT_PRORATION_BEHAVIOR = "always_invoice"
    team = team_of(owner)
    subscribe_team(billing_stripe, owner, team, team_plans.seat_price_id)
    billing_stripe.fake.advance(days=10)
    join(owner, team, person("bob@example.com"))
    assert remote_quantity(team) == 2
    subscription_id = Team.objects.get(pk=team.pk).stripe_subscription.id
    invoices = stripe.Invoice.list(subscription=subscription_id, limit=10).data
    now = next(inv for inv in invoices if inv["billing_reason"] == "subscription_update")
    assert now["status"] == "paid" and now["total"] > 0  # invoiced at once, not at renewal

    settings.TEAMS_SEAT_PRORATION_BEHAVIOR = "sometimes"
    with pytest.raises(ImproperlyConfigured, match="TEAMS_SEAT_PRORATION_BEHAVIOR"):
        team_billing.sync_seats(team_id=team.pk)
