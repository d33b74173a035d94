"""The seat count follows every change of a team's members, however it is made: a membership
created or deleted (by `services`, by deleting a user or a team, in the admin), or
`team.members.add()` / `.remove()` / `.clear()` (which bypass the model's save and delete)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .models import Membership, Team


def members_changed(team_id: int) -> None:
    """Once the transaction commits, set a per-seat subscription's quantity to the count."""
    from apps.billing.tasks import sync_seats  # billing depends on teams, not the reverse

    transaction.on_commit(lambda: sync_seats.delay(team_id))


@receiver(post_save, sender=Membership)
def membership_saved(sender: Any, instance: Membership, created: bool, **kwargs: Any) -> None:
    if created:
        members_changed(instance.team_id)


@receiver(post_delete, sender=Membership)
def membership_deleted(sender: Any, instance: Membership, **kwargs: Any) -> None:
    members_changed(instance.team_id)


@receiver(m2m_changed, sender=Team.members.through)
def members_edited(sender: Any, instance: Any, action: str, pk_set: Any, **kwargs: Any) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if isinstance(instance, Team):
        members_changed(instance.pk)
    else:  # user.teams.add(team): the teams are the pk_set
        for team_id in pk_set or ():
            members_changed(team_id)
