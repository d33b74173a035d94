"""Teams: a team (name, slug), who belongs to it and with which role, and invitations by email.

`team.members` is the team's users (through `Membership`), so `team.members.count()` is the
number of seats a per-seat plan bills. Billing reads a team through `apps.billing.team_billing`
(the team's own Stripe customer and subscription); nothing here calls Stripe except
`Team.stripe_subscription`, which reads the live subscription from Stripe on purpose.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Team(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        through_fields=("team", "user"),
        related_name="teams",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def subscription(self) -> Any:
        """The team's subscription that has not ended, as stored here (no Stripe call)."""
        from apps.billing.team_billing import get_team_subscription

        return get_team_subscription(self)

    @cached_property
    def stripe_subscription(self) -> Any:
        """The team's subscription as Stripe has it now (one API call, then cached on this
        object), or None: `subscription.id` and `subscription["items"]["data"][0].id` are
        what `stripe.Subscription.modify` takes."""
        from apps.billing.team_billing import retrieve_team_subscription

        return retrieve_team_subscription(self)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="teams_one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def manages(self) -> bool:
        """Owners and admins invite, remove, change roles and see the team's billing."""
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        """Not accepted, not revoked and not expired: each may still become a member."""
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """An invitation by email. The link carries a random token; only its SHA-256 is stored, so
    a leaked database gives no usable link. It works once, until `expires_at`."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["team", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="teams_invitation_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.team}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
