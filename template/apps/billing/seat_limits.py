"""How many members a team's plan allows, the same in both billing modes.

A per-seat plan never caps the team: each member is a seat it bills. Any other plan may cap the
members with its `team_members` limit (no limit, or null: no cap). An invitation, or an
acceptance, beyond the cap is refused with a message naming a plan that allows more.
"""

from __future__ import annotations

from typing import Any

from apps.teams.errors import TeamLimitError
from apps.teams.models import Team
from apps.teams.selectors import member_count

from .selectors import get_plans
from .team_billing import plan_of_team


def member_cap(plan: Any) -> int | None:
    """The most members `plan` allows, or None for no cap (per-seat plans, no limit set)."""
    if plan is None or getattr(plan, "per_seat", False):
        return None
    raw = (plan.limits or {}).get("team_members")
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _plan_allowing(needed: int, current: Any) -> Any:
    """The first configured plan (in pricing order) other than `current` that allows `needed`
    members, or None."""
    for plan in get_plans():
        if plan.slug == current.slug:
            continue
        cap = member_cap(plan)
        if cap is None or cap >= needed:
            return plan
    return None


def check_member_cap(*, team: Team, adding: int, counting_invitations: bool = True) -> None:
    """Raise TeamLimitError when `adding` more people would take the team past its plan's cap.

    `adding` is the number of places asked for beyond the current members: for an invitation,
    the pending invitations plus this one (each may still become a member), for an acceptance
    just 1 (its invitation was counted when it was sent). `counting_invitations` only words
    the message.
    """
    plan = plan_of_team(team)
    cap = member_cap(plan)
    if cap is None:
        return
    needed = member_count(team) + adding
    if needed <= cap:
        return
    what = "members and pending invitations" if counting_invitations else "members"
    message = f"The {plan.name} plan allows up to {cap} members, and {team.name} would have "
    message += f"{needed} {what}."
    better = _plan_allowing(needed, plan)
    if better is None:
        message += " Remove a member or withdraw an invitation first."
    elif getattr(better, "per_seat", False):
        message += f" The {better.name} plan allows more (billed per seat): upgrade the team."
    else:
        message += (
            f" The {better.name} plan allows {member_cap(better) or 'unlimited'} members: "
            "upgrade the team."
        )
    raise TeamLimitError(message)
