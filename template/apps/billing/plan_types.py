"""What a plan change is made of, in both billing modes: the plans on offer, a subscription as
the change pages read it, and a change scheduled for the end of its period.

Plain values, so the shared service (`plan_changes`) and each mode's state (`plan_state`) pass
them to each other without importing the other mode's models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

#: A year, month, week and day in days: plans of different intervals compare per day.
INTERVAL_DAYS = {"day": Decimal(1), "week": Decimal(7), "month": Decimal(30), "year": Decimal(365)}


@dataclass(frozen=True)
class PlanOption:
    """A plan a subscriber can move to: its recurring price in minor units."""

    slug: str
    name: str
    price_id: str
    amount: int
    currency: str
    interval: str = "month"
    interval_count: int = 1

    def daily_cost(self, quantity: int = 1) -> Decimal:
        """The price per day, so a monthly and a yearly plan compare (a change to a plan that
        costs less per day waits for the period end; any other change applies at once)."""
        days = INTERVAL_DAYS.get(self.interval, Decimal(30)) * max(self.interval_count, 1)
        return Decimal(self.amount * quantity) / days


@dataclass(frozen=True)
class ScheduledChange:
    """A move to another plan that a subscription schedule makes at `at` (its next phase)."""

    schedule_id: str
    price_id: str
    plan_name: str
    at: datetime | None
