"""A team's billing (basic mode): the team pays as its own Stripe customer (a `StripeCustomer`
whose `team` is set and `user` empty), so ownership can move without touching billing.

The names, and what both modes do alike, are the shared `seats` module's; this one holds
this mode's models and queries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import stripe
from django.db import transaction

from apps.teams.models import Team
from apps.teams.selectors import member_count
from apps.teams.services import lock_team

from .checkout_state import CheckoutConfirmation
from .errors import NoStripeCustomerError
from .lifecycle import UNENDED_STATUSES, customer_exists_at_stripe
from .models import READ_FROM_API, StripeCustomer, Subscription
from .plans import Plan, get_plan_by_price_id
from .portal import get_customer_portal_url
from .seats import (
    SeatChange,
    UnknownPlanError,
    confirm_for_team,
    create_team_customer_at_stripe,
    reconcile_team_seats,
    start_team_checkout,
    sync_team_seats,
)
from .services import _stripe_time as stripe_time
from .stripe_api import request_options
from .webhook_handlers import apply_subscription

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


def team_customer(team: Team) -> StripeCustomer | None:
    return StripeCustomer.objects.filter(team=team).first()


def get_team_subscription(team: Team) -> Subscription | None:
    """The team's newest subscription that has not ended, or None."""
    return (
        Subscription.objects.filter(customer__team=team, status__in=UNENDED_STATUSES)
        .order_by("-created_at", "-pk")
        .first()
    )


def plan_of_team(team: Team) -> Plan | None:
    subscription = get_team_subscription(team)
    return subscription.plan if subscription is not None else None


def seats_billed(subscription: Subscription) -> int:
    """The quantity Stripe bills, as its last event or read said."""
    return int(subscription.quantity)


def retrieve_team_subscription(team: Team) -> stripe.Subscription | None:
    """The team's subscription as Stripe has it now (an API call), or None."""
    subscription = get_team_subscription(team)
    if subscription is None:
        return None
    return stripe.Subscription.retrieve(subscription.stripe_subscription_id, **request_options())


# --- the team's customer and checkout ----------------------------------------------------------


def get_or_create_team_customer(*, team: Team) -> StripeCustomer:
    """The team's Stripe customer, created at Stripe (and linked) before its first checkout.

    The team's row is locked meanwhile, so two admins buying at once get one customer. A
    customer Stripe no longer has is let go (its rows stay, unlinked) and a new one made.
    """
    options = request_options()
    with transaction.atomic():
        lock_team(team.pk)
        customer = team_customer(team)
        previous = ""
        if customer is not None:
            if customer.unlinked_at is None and customer_exists_at_stripe(
                customer.stripe_customer_id, options
            ):
                return customer
            previous = customer.stripe_customer_id
            logger.warning("Stripe no longer has team customer %s", previous)
            StripeCustomer.objects.filter(pk=customer.pk).update(team=None)
        created = create_team_customer_at_stripe(team, previous=previous, options=options)
        return StripeCustomer.objects.create(team=team, stripe_customer_id=created.id)


def _had_subscription(customer: StripeCustomer, options: dict[str, Any]) -> bool:
    if Subscription.objects.filter(customer=customer).exists():
        return True
    found = stripe.Subscription.list(
        customer=customer.stripe_customer_id, status="all", limit=1, **options
    )
    return bool(found.data)


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
    quantity = member_count(team) if plan.per_seat else 1
    return start_team_checkout(
        team=team,
        user=user,
        plan_slug=plan.slug,
        customer_id=customer.stripe_customer_id,
        had_subscription=lambda: _had_subscription(customer, options),
        line_items=[{"price": plan.price_id, "quantity": quantity}],
        success_url=success_url,
        cancel_url=cancel_url,
        options=options,
    )


def confirm_team_checkout(
    *, team: Team, user: AbstractBaseUser, session_id: str
) -> CheckoutConfirmation:
    """The success page's confirmation, NOT_FOUND unless the subscription is the team's."""

    def is_teams(subscription: Subscription) -> bool:
        return subscription.customer.team_id == team.pk

    return confirm_for_team(user=user, session_id=session_id, is_teams=is_teams)


def team_portal_url(*, team: Team, return_url: str) -> str:
    customer = team_customer(team)
    if customer is None or customer.unlinked_at is not None:
        raise NoStripeCustomerError("This team has no Stripe customer yet.")
    return get_customer_portal_url(customer.stripe_customer_id, return_url)


# --- seats ------------------------------------------------------------------------------------


def _per_seat_subscription(team: Team) -> tuple[str, str] | None:
    subscription = get_team_subscription(team)
    plan = subscription.plan if subscription is not None else None
    if subscription is None or plan is None or not plan.per_seat:
        return None
    return subscription.stripe_subscription_id, plan.price_id


def _store(updated: stripe.Subscription, options: dict[str, Any]) -> None:
    apply_subscription(updated.to_dict(), at=stripe_time(updated), source=READ_FROM_API)


def sync_seats(*, team_id: int) -> SeatChange | None:
    """Set the team's per-seat subscription's quantity to its member count at Stripe, under
    the team's lock (`seats.sync_team_seats`). Stripe's answer is applied here at once (the
    webhook that follows changes nothing). Raises StripeError when Stripe fails."""
    return sync_team_seats(
        team_id=team_id, per_seat_subscription=_per_seat_subscription, store=_store
    )


def _teams_with_live_subscriptions() -> Iterable[int]:
    return (
        Subscription.objects.filter(customer__team__isnull=False, status__in=UNENDED_STATUSES)
        .values_list("customer__team_id", flat=True)
        .distinct()
    )


def reconcile_seats() -> list[SeatChange]:
    """Nightly: every team's seats set to its members (`seats.reconcile_team_seats`)."""
    return reconcile_team_seats(_teams_with_live_subscriptions, sync_seats)
