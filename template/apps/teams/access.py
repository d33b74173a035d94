"""Who may see a team's pages: members see the team, owners and admins its billing and its
management. A non-member gets 404 (a team's existence is not disclosed), a plain member 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from .models import Membership, Team
from .selectors import membership_of


def team_membership(request: HttpRequest, slug: str, *, manage: bool = False) -> Membership:
    """The request user's membership of the team `slug`; 404 for a non-member, 403 for a plain
    member when `manage` (owners and admins only)."""
    team = Team.objects.filter(slug=slug).first()
    membership = membership_of(team, request.user) if team is not None else None
    if membership is None:
        raise Http404("No such team.")
    if manage and not membership.manages:
        raise PermissionDenied("Only the team's owners and admins can see this.")
    return membership
