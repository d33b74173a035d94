"""A team's billing as both billing modes run it; what differs by mode (the team's customer,
subscription and plan, how Stripe's answer is stored) is each mode's `team_billing`, which
passes it in. Each mode's `team_billing` answers the same names:

- `get_or_create_team_customer`, `create_team_checkout_session`, `confirm_team_checkout`,
  `team_portal_url`: buying and managing a team plan (owners and admins, see apps.teams).
- `get_team_subscription`, `plan_of_team`, `seats_billed`: reads for the team's pages.
- `sync_seats`: a per-seat subscription's quantity set to the member count at Stripe, under
  the team's lock; `reconcile_seats` repairs every team nightly.

Personal plans are untouched: a user's own customer and subscriptions stay as they were.

Here:
- `create_team_customer_at_stripe`, `start_team_checkout`, `confirm_for_team`: the team's
  customer and checkout.
- `sync_team_seats`: the sync of one team (`team_billing.sync_seats`).
- `reconcile_team_seats`: the nightly repair of every team (`team_billing.reconcile_seats`).
- `run_seat_sync`: the body of the `tasks.sync_seats` task (retries with backoff).
- `SeatChange`, `UnknownPlanError`: what the team's billing answers and raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import stripe
from django.db import DatabaseError, transaction

from apps.teams.conf import seat_proration_behavior
from apps.teams.models import Team
from apps.teams.selectors import billing_email, member_count
from apps.teams.services import lock_team

from .checkout_state import CheckoutConfirmation, CheckoutOutcome
from .lifecycle import UNENDED_STATUSES, start_subscription_checkout
from .services import confirm_checkout_session
from .stripe_api import is_configured, request_options
from .stripe_objects import object_id

if TYPE_CHECKING:
    from celery import Task
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

__all__ = [
    "SEAT_SYNC_RETRIES",
    "SeatChange",
    "UnknownPlanError",
    "confirm_for_team",
    "create_team_customer_at_stripe",
    "reconcile_team_seats",
    "run_seat_sync",
    "seat_item",
    "start_team_checkout",
    "sync_team_seats",
]

#: Retries of a seat change Stripe refused: 30 s, 1 min, ... capped at 30 min; after that the
#: nightly reconciliation sets the quantity.
SEAT_SYNC_RETRIES = 8


class UnknownPlanError(Exception):
    """The price asked for at a team checkout is not one of the configured plans."""


@dataclass(frozen=True)
class SeatChange:
    """A per-seat subscription's quantity set at Stripe from `old` to `new` (the members)."""

    subscription_id: str
    old: int
    new: int


def create_team_customer_at_stripe(
    team: Team, *, previous: str, options: dict[str, Any]
) -> stripe.Customer:
    """The team's new customer at Stripe; `previous` is the id of the customer Stripe lost,
    or empty for the team's first."""
    return stripe.Customer.create(
        name=team.name,
        # Stripe's receipts and the project's billing emails go to the team's first owner.
        email=billing_email(team) or None,
        metadata={"team_id": str(team.pk)},
        # The same key for a retry of this creation; a new one after a customer was lost.
        idempotency_key=f"customer-for-team-{team.pk}-{previous or 'first'}",
        **options,
    )


def start_team_checkout(
    *,
    team: Team,
    user: AbstractBaseUser,
    plan_slug: str,
    customer_id: str,
    had_subscription: Callable[[], bool],
    line_items: list[dict[str, Any]],
    success_url: str,
    cancel_url: str,
    options: dict[str, Any],
) -> stripe.checkout.Session:
    """A Checkout session that subscribes the team's customer to `line_items`, started by
    `user`; `team_id` and `plan_slug` travel in the metadata of the session and of the
    subscription."""
    meta = {"team_id": str(team.pk), "plan_slug": plan_slug}
    return start_subscription_checkout(
        user=user,
        customer_id=customer_id,
        had_subscription=had_subscription,
        subscription_data={"metadata": meta},
        options=options,
        line_items=line_items,
        success_url=success_url,
        cancel_url=cancel_url,
        metadata=meta,
    )


def confirm_for_team(
    *, user: AbstractBaseUser, session_id: str, is_teams: Callable[[Any], bool]
) -> CheckoutConfirmation:
    """The personal success page's confirmation (`services.confirm_checkout_session`), and
    NOT_FOUND unless `is_teams(subscription)` says the session's subscription is the team's."""
    confirmation = confirm_checkout_session(user=user, session_id=session_id)
    subscription = confirmation.subscription
    if subscription is not None and not is_teams(subscription):
        return CheckoutConfirmation(CheckoutOutcome.NOT_FOUND)
    return confirmation


def seat_item(items: list[dict[str, Any]], price_id: str) -> dict[str, Any] | None:
    """The subscription item of the plan's price (else the first item): the one whose
    quantity is the seats."""
    for item in items:
        if object_id(item.get("price")) == price_id:
            return item
    return items[0] if items else None


def sync_team_seats(
    *,
    team_id: int,
    per_seat_subscription: Callable[[Team], tuple[str, str] | None],
    store: Callable[[stripe.Subscription, dict[str, Any]], object],
) -> SeatChange | None:
    """Set the team's per-seat subscription's quantity to its member count at Stripe.

    `per_seat_subscription(team)` answers the id of the team's subscription and its plan's
    price id, or None when the team has no per-seat plan; it runs under the team's lock, and
    may take further locks. `store(updated, options)` records Stripe's answer.

    The count is read, compared with Stripe's quantity and written to Stripe while the team's
    row is locked, so concurrent changes run one after the other and the last one counts every
    member: the quantity is always set to the count, never incremented. Prorations follow
    TEAMS_SEAT_PRORATION_BEHAVIOR. Raises StripeError when Stripe fails: the caller retries
    (`tasks.sync_seats`), and the nightly `reconcile_seats` repairs what is still off.
    """
    if not is_configured():
        return None
    behavior = seat_proration_behavior()  # a malformed setting fails before anything changes
    options = request_options()
    with transaction.atomic():
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            return None
        lock_team(team_id)
        found = per_seat_subscription(team)
        if found is None:
            return None
        subscription_id, price_id = found
        count = member_count(team)
        remote = stripe.Subscription.retrieve(subscription_id, **options).to_dict()
        item = seat_item((remote.get("items") or {}).get("data") or [], price_id)
        if item is None or remote.get("status") not in UNENDED_STATUSES:
            return None
        old = int(item.get("quantity") or 0)
        if old == count:
            return None
        updated = stripe.Subscription.modify(
            subscription_id,
            items=[{"id": item["id"], "quantity": count}],
            proration_behavior=behavior,
            **options,
        )
        store(updated, options)
    logger.info("Team %s: %s seats %d → %d", team_id, subscription_id, old, count)
    return SeatChange(subscription_id, old, count)


def reconcile_team_seats(
    team_ids: Callable[[], Iterable[int]], sync: Callable[..., SeatChange | None]
) -> list[SeatChange]:
    """Nightly: every team with a live subscription (`team_ids()`) gets its seats set to its
    members by `sync(team_id=...)`, each once, in order of id: what a failed, never retried
    change left off. A team Stripe cannot answer for is logged and skipped."""
    if not is_configured():
        return []
    changes = []
    for team_id in sorted(set(team_ids())):
        try:
            change = sync(team_id=team_id)
        except stripe.StripeError as exc:
            logger.warning("Could not reconcile the seats of team %s: %s", team_id, exc)
            continue
        if change is not None:
            logger.warning("Reconciled seats with the members: %s", change)
            changes.append(change)
    return changes


def run_seat_sync(
    task: Task,
    team_id: int,
    *,
    sync: Callable[..., SeatChange | None],
    countdown: Callable[[int], int],
) -> str:
    """The `tasks.sync_seats` task's work: `sync(team_id=...)`, retried after
    `countdown(retries)` seconds while Stripe or the database fails, SEAT_SYNC_RETRIES times."""
    try:
        change = sync(team_id=team_id)
    except (stripe.StripeError, DatabaseError) as exc:
        # In-process (no broker) a retry would run at once inside the request that changed
        # the members: the nightly reconciliation repairs the count instead.
        if task.request.is_eager or task.request.called_directly:
            logger.warning("Seats of team %s not synced (reconciled tonight): %s", team_id, exc)
            return "failed"
        if task.request.retries >= SEAT_SYNC_RETRIES:
            logger.error("Gave up syncing the seats of team %s: %s", team_id, exc)
            return "failed"
        raise task.retry(exc=exc, countdown=countdown(task.request.retries)) from exc
    return f"{change.old} → {change.new}" if change is not None else "unchanged"
