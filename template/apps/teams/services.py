"""Writes of teams: creating one, inviting by email, accepting an invitation, removing members
and changing roles.

Every change of who belongs to a team, made here or not (a user deleted with their memberships,
`team.members.add(user)` in a shell), queues `apps.billing.tasks.sync_seats` once it commits
(`signals`): a per-seat subscription's quantity is then set to the member count at Stripe, under
the team's lock (`apps.billing.team_billing.sync_seats`), and retried if Stripe fails.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from .conf import invitation_lifetime
from .errors import InvitationError, TeamError, TeamPermissionError
from .models import Invitation, Membership, Team
from .selectors import hash_token, invitation_for_token

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

Role = Membership.Role

__all__ = [
    "accept_invitation",
    "change_role",
    "create_team",
    "invite_member",
    "leave_team",
    "lock_team",
    "remove_member",
    "revoke_invitation",
]


def lock_team(team_id: int) -> Team:
    """The team's row, locked until the transaction ends: membership changes and seat counts of
    one team happen one at a time (a no-op lock on SQLite, which has one writer anyway)."""
    return Team.objects.select_for_update().get(pk=team_id)


def _acting_membership(team: Team, user: AbstractBaseUser) -> Membership:
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None or not membership.manages:
        raise TeamPermissionError("Only the team's owners and admins can do this.")
    return membership


#: Slugs that are paths under /teams/ themselves.
RESERVED_SLUGS = ("invitations", "new")


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "team"
    if base in RESERVED_SLUGS:
        base = f"{base}-team"
    slug, n = base, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_team(*, owner: AbstractBaseUser, name: str) -> Team:
    """A new team with `owner` as its first member (and owner)."""
    name = name.strip()
    if not name:
        raise TeamError("Give the team a name.")
    for _ in range(5):  # another team may take the same slug between the check and the insert
        try:
            with transaction.atomic():
                team = Team.objects.create(name=name[:100], slug=_unique_slug(name))
                Membership.objects.create(team=team, user=owner, role=Role.OWNER)
                return team
        except IntegrityError:
            continue
    raise TeamError("Could not find a free address for this team name; try another name.")


def invite_member(
    *, team: Team, email: str, role: str, invited_by: AbstractBaseUser
) -> tuple[Invitation, str]:
    """Invite `email` to the team; the invitation and the token of its link (only its hash is
    stored, so the token exists only in the email and in what this returns).

    Refused unless `invited_by` is an owner or admin, and when the team's plan caps its
    members (`team_members`) and the members plus pending invitations reach the cap. An
    earlier pending invitation to the same address is revoked: one link works at a time.
    """
    from apps.billing.seat_limits import check_member_cap

    email = email.strip().lower()
    if role not in (Role.ADMIN, Role.MEMBER):
        raise TeamError("An invitation is for an admin or a member.")
    with transaction.atomic():
        lock_team(team.pk)
        _acting_membership(team, invited_by)
        if Membership.objects.filter(team=team, user__email__iexact=email).exists():
            raise TeamError(f"{email} is already a member of {team.name}.")
        earlier = Invitation.objects.filter(team=team, email__iexact=email).pending()
        earlier.update(revoked_at=timezone.now())
        pending = Invitation.objects.filter(team=team).pending().count()
        check_member_cap(team=team, adding=pending + 1)
        token = secrets.token_urlsafe(32)
        invitation = Invitation.objects.create(
            team=team,
            email=email,
            role=role,
            token_hash=hash_token(token),
            invited_by=invited_by,
            expires_at=timezone.now() + invitation_lifetime(),
        )
    return invitation, token


def send_invitation(*, invitation: Invitation, url: str) -> None:
    """Email the invitation link (`url`, absolute) to the invited address."""
    context = {
        "team": invitation.team,
        "url": url,
        "invited_by": invitation.invited_by,
        "expires_at": invitation.expires_at,
        "project_name": settings.PROJECT_NAME,
    }
    send_mail(
        subject=f"Join {invitation.team.name} on {settings.PROJECT_NAME}",
        message=render_to_string("teams/emails/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def accept_invitation(*, token: str, user: AbstractBaseUser) -> Membership:
    """Make `user` a member through an invitation link: once, before it expires, and only for
    the address it was sent to. The team is locked meanwhile, so a capped plan's limit holds
    when many accept at once; the seat count follows once this commits."""
    from apps.billing.seat_limits import check_member_cap

    found = invitation_for_token(token)
    if found is None:
        raise InvitationError("This invitation link is not valid.")
    with transaction.atomic():
        lock_team(found.team_id)
        invitation = Invitation.objects.select_for_update().get(pk=found.pk)
        if invitation.accepted_at is not None:
            raise InvitationError("This invitation has been used already.")
        if invitation.revoked_at is not None:
            raise InvitationError("This invitation was withdrawn; ask for a new one.")
        if invitation.is_expired:
            raise InvitationError("This invitation has expired; ask for a new one.")
        user_email = str(getattr(user, "email", "") or "")
        if user_email.lower() != invitation.email.lower():
            raise InvitationError(
                f"This invitation was sent to {invitation.email}: log in with that address "
                "to accept it."
            )
        existing = Membership.objects.filter(team_id=invitation.team_id, user=user).first()
        if existing is None:
            check_member_cap(team=invitation.team, adding=1, counting_invitations=False)
            existing = Membership.objects.create(
                team_id=invitation.team_id, user=user, role=invitation.role
            )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user  # type: ignore[assignment]
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return existing


def revoke_invitation(*, invitation: Invitation, by: AbstractBaseUser) -> None:
    _acting_membership(invitation.team, by)
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _owners(team: Team) -> int:
    return Membership.objects.filter(team=team, role=Role.OWNER).count()


def remove_member(*, team: Team, user: AbstractBaseUser, by: AbstractBaseUser) -> None:
    """Remove `user` from the team (by an owner or admin; admins cannot remove owners, and the
    last owner stays). Their access through the team's plan ends at once."""
    with transaction.atomic():
        lock_team(team.pk)
        acting = _acting_membership(team, by)
        target = Membership.objects.filter(team=team, user=user).first()
        if target is None:
            raise TeamError("This person is not a member of the team.")
        if target.role == Role.OWNER and acting.role != Role.OWNER:
            raise TeamPermissionError("Only an owner can remove an owner.")
        if target.role == Role.OWNER and _owners(team) == 1:
            raise TeamError("A team keeps at least one owner: make someone else owner first.")
        target.delete()


def leave_team(*, team: Team, user: AbstractBaseUser) -> None:
    """Leave a team (the last owner cannot: the team would have nobody to manage it)."""
    with transaction.atomic():
        lock_team(team.pk)
        membership = Membership.objects.filter(team=team, user=user).first()
        if membership is None:
            raise TeamError("You are not a member of this team.")
        if membership.role == Role.OWNER and _owners(team) == 1:
            raise TeamError("You are the team's only owner: make someone else owner first.")
        membership.delete()


def change_role(*, team: Team, user: AbstractBaseUser, role: str, by: AbstractBaseUser) -> None:
    """Set a member's role. Owners change any role; admins move people between member and
    admin only. The last owner keeps the role. Roles do not change the seat count."""
    if role not in Role.values:
        raise TeamError(f"Unknown role {role!r}.")
    with transaction.atomic():
        lock_team(team.pk)
        acting = _acting_membership(team, by)
        target = Membership.objects.filter(team=team, user=user).first()
        if target is None:
            raise TeamError("This person is not a member of the team.")
        if acting.role != Role.OWNER and Role.OWNER in (role, target.role):
            raise TeamPermissionError("Only an owner can make or unmake owners.")
        if target.role == Role.OWNER and role != Role.OWNER and _owners(team) == 1:
            raise TeamError("A team keeps at least one owner: make someone else owner first.")
        target.role = role
        target.save(update_fields=["role"])
