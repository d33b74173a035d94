"""A team's billing (advanced mode): the team pays as its own dj-stripe `Customer`, linked to
the team by a `TeamCustomer` (dj-stripe's `subscriber` stays empty), so ownership can move
without touching billing.

The names, and what both modes do alike, are the shared `seats` module's; this one holds
this mode's models and queries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import stripe
from django.db import transaction
from djstripe.models import Customer

from apps.teams.models import Team
from apps.teams.selectors import member_count
from apps.teams.services import lock_team

from .checkout_state import CheckoutConfirmation
from .errors import NoStripeCustomerError
from .lifecycle import UNENDED_STATUSES, customer_exists_at_stripe
from .models import PlanConfiguration, Subscription, TeamCustomer, subscription_items
from .portal import get_customer_portal_url
from .seats import (
    SeatChange,
    UnknownPlanError,
    confirm_for_team,
    create_team_customer_at_stripe,
    reconcile_team_seats,
    seat_item,
    start_team_checkout,
    sync_team_seats,
)
from .selectors import get_plan_by_price_id, plan_of
from .services import _line_items as plan_line_items
from .services import apply_subscription, lock_stripe_object
from .stripe_api import livemode, request_options

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

__all__ = [
    "confirm_team_checkout",
    "create_team_checkout_session",
    "get_or_create_team_customer",
    "get_team_subscription",
    "plan_of_team",
    "reconcile_seats",
    "retrieve_team_subscription",
    "seats_billed",
    "sync_seats",
    "team_portal_url",
]


# --- reads ------------------------------------------------------------------------------------


def team_customer(team: Team) -> Customer | None:
    """The team's customer, unless Stripe deleted it (dj-stripe then purged it)."""
    link = TeamCustomer.objects.select_related("customer").filter(team=team).first()
    if link is None or link.customer.date_purged is not None:
        return None
    return link.customer


def get_team_subscription(team: Team) -> Subscription | None:
    """The team's newest subscription that has not ended, or None."""
    return (
        Subscription.objects.filter(
            customer__team_link__team=team,
            livemode=livemode(),
            stripe_data__status__in=UNENDED_STATUSES,
        )
        .order_by("-created", "-djstripe_id")
        .first()
    )


def plan_of_team(team: Team) -> PlanConfiguration | None:
    subscription = get_team_subscription(team)
    return plan_of(subscription) if subscription is not None else None


def seats_billed(subscription: Subscription) -> int:
    """The quantity Stripe bills for the plan's price, as its last event or read said."""
    plan = plan_of(subscription)
    items = subscription_items(subscription)
    if plan is not None:
        item = seat_item(items, plan.stripe_price_id)
    else:
        item = items[0] if items else None
    return int((item or {}).get("quantity") or 0)


def retrieve_team_subscription(team: Team) -> stripe.Subscription | None:
    """The team's subscription as Stripe has it now (an API call), or None."""
    subscription = get_team_subscription(team)
    if subscription is None:
        return None
    return stripe.Subscription.retrieve(subscription.id, **request_options())


# --- the team's customer and checkout ----------------------------------------------------------


def get_or_create_team_customer(*, team: Team) -> Customer:
    """The team's Stripe customer, created at Stripe (and linked) before its first checkout.

    The team's row is locked meanwhile, so two admins buying at once get one customer. A
    customer Stripe no longer has is let go (its rows stay) and a new one made.
    """
    options = request_options()
    with transaction.atomic():
        lock_team(team.pk)
        link = TeamCustomer.objects.select_related("customer").filter(team=team).first()
        previous = ""
        if link is not None:
            customer = link.customer
            if customer.date_purged is None and customer_exists_at_stripe(customer.id, options):
                return customer
            previous = customer.id
            logger.warning("Stripe no longer has team customer %s", previous)
            link.delete()
        # Its metadata has no djstripe_subscriber: dj-stripe would make the customer a user's.
        created = create_team_customer_at_stripe(team, previous=previous, options=options)
        customer = Customer.sync_from_stripe_data(created, api_key=options["api_key"])
        TeamCustomer.objects.create(team=team, customer=customer)
        return customer


def _had_subscription(customer: Customer, options: dict[str, Any]) -> bool:
    if Subscription.objects.filter(customer_id=customer.id).exists():
        return True
    found = stripe.Subscription.list(customer=customer.id, status="all", limit=1, **options)
    return bool(found["data"])


def create_team_checkout_session(
    *, team: Team, user: AbstractBaseUser, price_id: str, success_url: str, cancel_url: str
) -> stripe.checkout.Session:
    """A Checkout session that subscribes the team (its own customer) to the plan of
    `price_id`, started by `user` (an owner or admin). A per-seat plan starts with one seat
    per member; any other plan with quantity 1. `team_id` travels in the metadata."""
    plan = get_plan_by_price_id(price_id)
    if plan is None:
        raise UnknownPlanError(price_id)
    options = request_options()
    customer = get_or_create_team_customer(team=team)
    items = plan_line_items(plan.stripe_price_id)
    if plan.per_seat:
        seats = member_count(team)
        for item in items:
            if item["price"] == plan.stripe_price_id:
                item["quantity"] = seats
    return start_team_checkout(
        team=team,
        user=user,
        plan_slug=plan.slug,
        customer_id=customer.id,
        had_subscription=lambda: _had_subscription(customer, options),
        line_items=items,
        success_url=success_url.replace("%7BCHECKOUT_SESSION_ID%7D", "{CHECKOUT_SESSION_ID}"),
        cancel_url=cancel_url,
        options=options,
    )


def confirm_team_checkout(
    *, team: Team, user: AbstractBaseUser, session_id: str
) -> CheckoutConfirmation:
    """The success page's confirmation, NOT_FOUND unless the subscription is the team's."""

    def is_teams(subscription: Subscription) -> bool:
        return TeamCustomer.objects.filter(team=team, customer_id=subscription.customer_id).exists()

    return confirm_for_team(user=user, session_id=session_id, is_teams=is_teams)


def team_portal_url(*, team: Team, return_url: str) -> str:
    customer = team_customer(team)
    if customer is None:
        raise NoStripeCustomerError("This team has no Stripe customer yet.")
    return get_customer_portal_url(customer.id, return_url)


# --- seats ------------------------------------------------------------------------------------


def _per_seat_subscription(team: Team) -> tuple[str, str] | None:
    subscription = get_team_subscription(team)
    plan = plan_of(subscription) if subscription is not None else None
    if subscription is None or plan is None or not plan.per_seat:
        return None
    # Held as webhooks hold it, so Stripe's answer is synced in order with theirs.
    lock_stripe_object(subscription.id)
    return subscription.id, plan.stripe_price_id


def _store(updated: stripe.Subscription, options: dict[str, Any]) -> None:
    apply_subscription(updated, api_key=options["api_key"])


def sync_seats(*, team_id: int) -> SeatChange | None:
    """Set the team's per-seat subscription's quantity to its member count at Stripe, under
    the team's lock (`seats.sync_team_seats`). Stripe's answer is synced here at once, holding
    the subscription's lock as webhooks do. Raises StripeError when Stripe fails."""
    return sync_team_seats(
        team_id=team_id, per_seat_subscription=_per_seat_subscription, store=_store
    )


def _teams_with_live_subscriptions() -> Iterable[int]:
    return TeamCustomer.objects.filter(
        customer__subscriptions__stripe_data__status__in=UNENDED_STATUSES
    ).values_list("team_id", flat=True)


def reconcile_seats() -> list[SeatChange]:
    """Nightly: every team's seats set to its members (`seats.reconcile_team_seats`)."""
    return reconcile_team_seats(_teams_with_live_subscriptions, sync_seats)
