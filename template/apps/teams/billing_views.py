"""A team's billing pages, for its owners and admins only: the team's plan and seats, Checkout
of a team plan (the team pays as its own Stripe customer) and the team's customer portal.
The Stripe work is `apps.billing.team_billing`'s, which each billing mode implements."""

from __future__ import annotations

import logging

import stripe
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.billing import team_billing
from apps.billing.checkout_state import CheckoutOutcome
from apps.billing.errors import NoStripeCustomerError, StripeNotConfiguredError
from apps.billing.seats import UnknownPlanError
from apps.billing.selectors import get_plans

from .access import team_membership
from .selectors import member_count

logger = logging.getLogger(__name__)


def _back(slug: str) -> HttpResponse:
    return redirect("teams:billing", slug=slug)


@never_cache
@login_required
def overview(request: HttpRequest, slug: str) -> HttpResponse:
    team = team_membership(request, slug, manage=True).team
    subscription = team_billing.get_team_subscription(team)
    context = {
        "team": team,
        "subscription": subscription,
        "plan": team_billing.plan_of_team(team),
        "seats": team_billing.seats_billed(subscription) if subscription is not None else 0,
        "members": member_count(team),
        "plans": get_plans(),
    }
    return render(request, "teams/billing.html", context)


@never_cache
@login_required
@require_POST
def team_checkout(request: HttpRequest, slug: str) -> HttpResponse:
    team = team_membership(request, slug, manage=True).team
    if team_billing.get_team_subscription(team) is not None:
        messages.info(request, "The team already has a subscription: manage it from here.")
        return _back(slug)
    success = request.build_absolute_uri(reverse("teams:billing_success", args=[slug]))
    try:
        session = team_billing.create_team_checkout_session(
            team=team,
            user=request.user,
            price_id=request.POST.get("price_id", ""),
            success_url=f"{success}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=request.build_absolute_uri(reverse("teams:billing", args=[slug])),
        )
    except UnknownPlanError:
        messages.error(request, "Unknown plan. Choose one of the plans below.")
        return _back(slug)
    except StripeNotConfiguredError as exc:
        messages.error(request, str(exc))
        return _back(slug)
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a team checkout: %s", exc)
        messages.error(request, f"Stripe could not start checkout: {exc.user_message or exc}")
        return _back(slug)
    return redirect(str(session.url))


@never_cache
@login_required
def team_success(request: HttpRequest, slug: str) -> HttpResponse:
    """Back from Checkout: the session is confirmed with Stripe (and must be this team's), so
    the team's access starts now rather than when the webhook arrives."""
    team = team_membership(request, slug, manage=True).team
    confirmation = team_billing.confirm_team_checkout(
        team=team, user=request.user, session_id=request.GET.get("session_id", "")
    )
    if confirmation.outcome is CheckoutOutcome.CONFIRMED:
        messages.success(request, f"{team.name} is subscribed. Thank you!")
    elif confirmation.outcome is CheckoutOutcome.NOT_FOUND:
        messages.error(request, "This checkout is not one of this team's.")
    else:
        messages.info(request, "Stripe is still confirming the payment: check back shortly.")
    return _back(slug)


@never_cache
@login_required
@require_POST
def team_portal(request: HttpRequest, slug: str) -> HttpResponse:
    team = team_membership(request, slug, manage=True).team
    return_url = request.build_absolute_uri(reverse("teams:billing", args=[slug]))
    try:
        url = team_billing.team_portal_url(team=team, return_url=return_url)
    except NoStripeCustomerError:
        messages.info(request, "The team has no billing account yet: choose a plan first.")
        return _back(slug)
    except StripeNotConfiguredError as exc:
        messages.error(request, str(exc))
        return _back(slug)
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a team portal session: %s", exc)
        messages.error(request, f"Stripe could not open the portal: {exc.user_message or exc}")
        return _back(slug)
    return redirect(url)
