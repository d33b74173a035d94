"""What a team action refuses, with a message to show the person who tried it."""

from __future__ import annotations


class TeamError(Exception):
    """A refused team action; `str(error)` is written for the person who tried it."""


class TeamPermissionError(TeamError):
    """The acting user's role does not allow this action (the views answer 403)."""


class InvitationError(TeamError):
    """The invitation cannot be used: unknown, expired, used, revoked or for someone else."""


class TeamLimitError(TeamError):
    """The team's plan caps its members (its `team_members` limit) and the cap is reached."""
