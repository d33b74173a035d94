"""The plans sold on the pricing page, read from the BILLING_PLANS setting (basic mode).

Each plan exposes the same names as advanced mode's `PlanConfiguration` (`name`, `slug`,
`features`, `limits`, `is_popular`, `per_seat`, `stripe_price.id`, `stripe_price.unit_amount`),
so the documented pricing template works unchanged in both modes. `per_seat` marks a team plan
billed per member; `limits["team_members"]` caps the members of a team on any other plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

#: The plan limits basic mode enforces (the pricing page lists only these): seats. Basic mode
#: counts no usage, so a use limit such as `api_calls` would be a promise nothing keeps.
ENFORCED_LIMITS: frozenset[str] | None = frozenset({"team_members"})


@dataclass(frozen=True)
class PlanPrice:
    id: str
    unit_amount: int
    currency: str
    interval: str


@dataclass(frozen=True)
class PlanProduct:
    name: str


@dataclass(frozen=True)
class Plan:
    slug: str
    name: str
    price_id: str
    amount: int
    currency: str
    interval: str = "month"
    features: dict[str, bool] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    is_popular: bool = False
    #: A team plan billed per member: its quantity follows the team's member count.
    per_seat: bool = False

    @property
    def stripe_price(self) -> PlanPrice:
        return PlanPrice(self.price_id, self.amount, self.currency, self.interval)

    @property
    def product(self) -> PlanProduct:
        return PlanProduct(self.name)

    @property
    def is_purchasable(self) -> bool:
        return bool(self.price_id)

    @property
    def price(self) -> float:
        """The amount in major units (29.0 for 2900 cents)."""
        return self.amount / 100


def _plan_from_setting(index: int, raw: Any) -> Plan:
    where = f"BILLING_PLANS[{index}]"
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"{where} must be a dict, got {type(raw).__name__}.")
    missing = [key for key in ("slug", "name", "amount") if key not in raw]
    if missing:
        raise ImproperlyConfigured(f"{where} is missing {', '.join(missing)}.")
    amount = raw["amount"]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ImproperlyConfigured(
            f"{where}['amount'] must be a non-negative integer in cents, got {amount!r}."
        )
    price_id = raw.get("price_id") or ""
    if price_id and not str(price_id).startswith("price_"):
        raise ImproperlyConfigured(
            f"{where}['price_id'] must be a Stripe Price id (price_...), got {price_id!r}."
        )
    return Plan(
        slug=str(raw["slug"]),
        name=str(raw["name"]),
        price_id=str(price_id),
        amount=amount,
        currency=str(raw.get("currency") or settings.BILLING_CURRENCY),
        interval=str(raw.get("interval", "month")),
        features=dict(raw.get("features") or {}),
        limits=dict(raw.get("limits") or {}),
        is_popular=bool(raw.get("is_popular", False)),
        per_seat=bool(raw.get("per_seat", False)),
    )


def get_plans() -> list[Plan]:
    """All configured plans, in the order of the setting. Raises ImproperlyConfigured if bad."""
    raw_plans = getattr(settings, "BILLING_PLANS", [])
    if not isinstance(raw_plans, list):
        raise ImproperlyConfigured("BILLING_PLANS must be a list of plan dicts.")
    plans = [_plan_from_setting(i, raw) for i, raw in enumerate(raw_plans)]
    slugs = [plan.slug for plan in plans]
    if len(set(slugs)) != len(slugs):
        raise ImproperlyConfigured(f"BILLING_PLANS has duplicate slugs: {slugs}.")
    price_ids = [plan.price_id for plan in plans if plan.price_id]
    if len(set(price_ids)) != len(price_ids):
        raise ImproperlyConfigured(f"BILLING_PLANS has duplicate price ids: {price_ids}.")
    return plans


def get_plan_by_price_id(price_id: str) -> Plan | None:
    if not price_id:
        return None
    return next((plan for plan in get_plans() if plan.price_id == price_id), None)


def get_plan_by_slug(slug: str) -> Plan | None:
    return next((plan for plan in get_plans() if plan.slug == slug), None)


def get_plan_by_name(name: str) -> Plan | None:
    """The plan whose name or slug is `name` (case-insensitive), e.g. a Subscription.plan_name."""
    wanted = name.strip().lower()
    if not wanted:
        return None
    return next(
        (plan for plan in get_plans() if wanted in (plan.slug.lower(), plan.name.lower())), None
    )
