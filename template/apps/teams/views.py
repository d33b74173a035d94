"""The team pages: list and create, a team's members and invitations, switching the current
team, and the invitation link. Thin views: reads from `selectors`, writes from `services`;
`access.team_membership` decides who sees what. The billing pages are in `billing_views`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .access import team_membership
from .errors import TeamError, TeamPermissionError
from .forms import InvitationForm, RoleForm, TeamForm
from .models import Invitation


def _refused(request: HttpRequest, error: TeamError) -> None:
    if isinstance(error, TeamPermissionError):
        raise PermissionDenied(str(error))
    messages.error(request, str(error))


@login_required
@require_http_methods(["GET", "POST"])
def team_list(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.create_team(owner=request.user, name=form.cleaned_data["name"])
        except TeamError as exc:
            messages.error(request, str(exc))
        else:
            request.session[selectors.CURRENT_TEAM_SESSION_KEY] = team.pk
            messages.success(request, f"Team {team.name} created.")
            return redirect("teams:detail", slug=team.slug)
    context = {
        "teams": selectors.teams_of(request.user),
        "current": selectors.current_team(request),
        "form": form,
    }
    return render(request, "teams/list.html", context)


@login_required
def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    membership = team_membership(request, slug)
    team = membership.team
    context = {
        "team": team,
        "membership": membership,
        "memberships": selectors.memberships(team),
        "invitations": selectors.pending_invitations(team) if membership.manages else [],
        "invite_form": InvitationForm(),
        "roles": RoleForm.base_fields["role"].choices,  # type: ignore[attr-defined]
    }
    return render(request, "teams/detail.html", context)


@login_required
@require_POST
def switch_team(request: HttpRequest, slug: str) -> HttpResponse:
    team = team_membership(request, slug).team
    request.session[selectors.CURRENT_TEAM_SESSION_KEY] = team.pk
    messages.info(request, f"You are now working in {team.name}.")
    return redirect("teams:detail", slug=team.slug)


@login_required
@require_POST
def invite(request: HttpRequest, slug: str) -> HttpResponse:
    team = team_membership(request, slug, manage=True).team
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the email address to invite.")
        return redirect("teams:detail", slug=slug)
    try:
        invitation, token = services.invite_member(
            team=team,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            invited_by=request.user,
        )
    except TeamError as exc:
        _refused(request, exc)
        return redirect("teams:detail", slug=slug)
    url = request.build_absolute_uri(reverse("teams:invitation", args=[token]))
    services.send_invitation(invitation=invitation, url=url)
    messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("teams:detail", slug=slug)


@login_required
@require_POST
def revoke(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    team = team_membership(request, slug, manage=True).team
    invitation = get_object_or_404(Invitation, pk=invitation_id, team=team)
    services.revoke_invitation(invitation=invitation, by=request.user)
    messages.info(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect("teams:detail", slug=slug)


@login_required
@require_POST
def remove(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    team = team_membership(request, slug, manage=True).team
    member = get_object_or_404(get_user_model(), pk=user_id)
    try:
        services.remove_member(team=team, user=member, by=request.user)
    except TeamError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"{member} was removed from {team.name}.")
    return redirect("teams:detail", slug=slug)


@login_required
@require_POST
def role(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    team = team_membership(request, slug, manage=True).team
    member = get_object_or_404(get_user_model(), pk=user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
        return redirect("teams:detail", slug=slug)
    try:
        services.change_role(
            team=team, user=member, role=form.cleaned_data["role"], by=request.user
        )
    except TeamError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"{member} is now {form.cleaned_data['role']}.")
    return redirect("teams:detail", slug=slug)


@login_required
@require_POST
def leave(request: HttpRequest, slug: str) -> HttpResponse:
    team = team_membership(request, slug).team
    try:
        services.leave_team(team=team, user=request.user)
    except TeamError as exc:
        messages.error(request, str(exc))
        return redirect("teams:detail", slug=slug)
    messages.info(request, f"You left {team.name}.")
    return redirect("teams:list")


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link. Someone not logged in is offered sign up or log in, both coming
    back here (`next`); a logged-in invitee accepts with a POST and lands in the team."""
    found = selectors.invitation_for_token(token)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={request.path}")
        try:
            membership = services.accept_invitation(token=token, user=request.user)
        except TeamError as exc:
            messages.error(request, str(exc))
        else:
            request.session[selectors.CURRENT_TEAM_SESSION_KEY] = membership.team_id
            messages.success(request, f"Welcome to {membership.team.name}.")
            return redirect("teams:detail", slug=membership.team.slug)
    usable = (
        found is not None
        and found.accepted_at is None
        and found.revoked_at is None
        and not found.is_expired
    )
    context = {"invitation": found, "usable": usable, "next": request.path}
    return render(request, "teams/invitation.html", context, status=200 if usable else 404)
