"""Reads of teams: who belongs where, with which role, and the team a user is working in."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from .models import Invitation, Membership, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest

#: The session key of the team a user switched to.
CURRENT_TEAM_SESSION_KEY = "current_team_id"


def teams_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).order_by("name", "pk")


def membership_of(team: Team, user: AbstractBaseUser | AnonymousUser) -> Membership | None:
    """The user's membership of the team, or None (anonymous users have none)."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team=team, user=user).select_related("team").first()


def billing_email(team: Team) -> str:
    """Where the team's billing emails go: its first owner's address."""
    owner = memberships(team).filter(role=Membership.Role.OWNER).first()
    return str(owner.user.email) if owner is not None else ""


def member_count(team: Team) -> int:
    return Membership.objects.filter(team=team).count()


def memberships(team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("joined_at", "pk")


def pending_invitations(team: Team) -> QuerySet[Invitation]:
    return Invitation.objects.filter(team=team).pending().order_by("created_at", "pk")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation of a link's token, whatever its state (None if there is none)."""
    if not token or len(token) > 200:
        return None
    return Invitation.objects.select_related("team").filter(token_hash=hash_token(token)).first()


def current_team(request: HttpRequest) -> Team | None:
    """The team the user switched to (kept in the session), else their first team."""
    user: Any = request.user
    if not user.is_authenticated:
        return None
    teams = teams_of(user)
    session = getattr(request, "session", None)  # absent from requests built by hand
    wanted = session.get(CURRENT_TEAM_SESSION_KEY) if session is not None else None
    if wanted is not None:
        chosen = teams.filter(pk=wanted).first()
        if chosen is not None:
            return chosen
    return teams.first()
