"""Billing objects for tests: dj-stripe rows written directly, or a catalog in the fake."""

from __future__ import annotations

import copy
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import stripe
from django.apps import apps
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Model
from djstripe.models import Customer, Price, Product

from apps.billing.models import PlanConfiguration, Subscription
from apps.billing.plans import sync_plans, sync_products_and_prices
from apps.billing.services import sync_subscription_metadata
from fakestripe import FakeStripe

_ids = itertools.count(1)
DAY = 86400
PRO_FEATURES = {"api_access": True, "advanced_analytics": True, "priority_support": False}
PRO_LIMITS = {"api_calls": 10000, "team_members": 10}


def _id(prefix: str) -> str:
    return f"{prefix}_test{next(_ids):06d}"


# --- rows in the database (no Stripe) --------------------------------------------------------


def plan(
    slug: str = "pro",
    *,
    name: str = "",
    amount: int = 2900,
    features: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    is_popular: bool = False,
    **extra: Any,
) -> PlanConfiguration:
    product = Product.objects.create(
        id=_id("prod"),
        name=name or slug.title(),
        active=True,
        livemode=False,
        stripe_data={"object": "product", "name": name or slug.title(), "active": True},
    )
    price = Price.objects.create(
        id=_id("price"),
        product=product,
        active=True,
        currency="usd",
        livemode=False,
        stripe_data={
            "object": "price",
            "unit_amount": amount,
            "currency": "usd",
            "type": "recurring",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        },
    )
    return PlanConfiguration.objects.create(
        stripe_product=product,
        stripe_price=price,
        name=name or slug.title(),
        slug=slug,
        features=PRO_FEATURES if features is None else features,
        limits=PRO_LIMITS if limits is None else limits,
        is_popular=is_popular,
        **extra,
    )


def customer(*, user: Any) -> Customer:
    return Customer.objects.create(
        id=_id("cus"),
        subscriber=user,
        livemode=False,
        email=user.email,
        stripe_data={"object": "customer", "email": user.email},
    )


def subscription(
    *,
    user: Any,
    plan: PlanConfiguration | None = None,
    status: str = "active",
    period_start: int | None = None,
) -> Subscription:
    """An active subscription of `user` to `plan`, with its metadata, as the webhooks leave it."""
    plan = plan or PlanConfiguration.objects.filter(slug="pro").first() or globals()["plan"]()
    start = period_start if period_start is not None else int(time.time()) - DAY
    owner = Customer.objects.filter(subscriber=user).first() or customer(user=user)
    sub_id = _id("sub")
    data = {
        "id": sub_id,
        "object": "subscription",
        "status": status,
        "customer": owner.id,
        "cancel_at_period_end": False,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": _id("si"),
                    "object": "subscription_item",
                    "price": {"id": plan.stripe_price_id, "object": "price"},
                    "quantity": 1,
                    "current_period_start": start,
                    "current_period_end": start + 30 * DAY,
                }
            ],
        },
    }
    created = Subscription.objects.create(
        id=sub_id, customer=owner, livemode=False, stripe_data=data
    )
    sync_subscription_metadata(created)
    return Subscription.objects.get(pk=created.pk)


# --- a catalog in the offline Stripe ---------------------------------------------------------


@dataclass
class Catalog:
    plans: dict[str, PlanConfiguration]
    meter_id: str

    def __getitem__(self, slug: str) -> PlanConfiguration:
        return self.plans[slug]


def _options() -> dict[str, Any]:
    return {"api_key": settings.STRIPE_SECRET_KEY}


def _product(name: str, slug: str, *, order: int, **metadata: Any) -> stripe.Product:
    meta = {"plan_slug": slug, "display_order": str(order)}
    meta.update({key: json.dumps(value) for key, value in metadata.items()})
    return stripe.Product.create(name=name, metadata=meta, **_options())


def _monthly(product: stripe.Product, amount: int) -> stripe.Price:
    return stripe.Price.create(
        product=product.id,
        unit_amount=amount,
        currency="usd",
        recurring={"interval": "month"},
        **_options(),
    )


def stripe_monthly_price(name: str, amount: int) -> stripe.Price:
    """A product and its monthly price in USD, made in the offline Stripe only (not synced)."""
    return _monthly(stripe.Product.create(name=name, **_options()), amount)


def create_catalog() -> Catalog:
    """Pro (popular), Enterprise and Usage (a base fee plus a metered price on a sum meter)."""
    meter = stripe.billing.Meter.create(
        display_name="API calls",
        event_name="api_calls",
        default_aggregation={"formula": "sum"},
        **_options(),
    )
    pro = _product("Pro", "pro", order=1, features=PRO_FEATURES, limits=PRO_LIMITS)
    stripe.Product.modify(pro.id, metadata={"is_popular": "true"}, **_options())
    _monthly(pro, 2900)
    enterprise = _product(
        "Enterprise",
        "enterprise",
        order=2,
        features={**PRO_FEATURES, "priority_support": True},
        limits={"api_calls": 100000, "team_members": 100},
    )
    _monthly(enterprise, 9900)
    usage = _product(
        "Usage", "usage", order=3, features={"api_access": True}, limits={"api_calls": 1000}
    )
    _monthly(usage, 1000)
    stripe.Price.create(
        product=usage.id,
        currency="usd",
        unit_amount_decimal="0.5",
        recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
        **_options(),
    )
    sync_products_and_prices()
    list(sync_plans())
    plans = {config.slug: config for config in PlanConfiguration.objects.all()}
    return Catalog(plans=plans, meter_id=meter.id)


class CatalogSnapshot:
    """`create_catalog` run once a session, then put back for each test that asks: the offline
    Stripe's data as the build left it (`FakeStripe.save_state`) and the rows its syncing wrote.
    A build is eight API calls and a dj-stripe sync (about a quarter of a second, in ~130
    tests); putting it back is one insert per table. The sync itself is tested where it is the
    subject (test_plans.py builds the catalog each time)."""

    def __init__(self) -> None:
        self.saved: Any = None
        self.rows: list[tuple[type[Model], list[Model]]] = []
        self.meter_id = ""

    def catalog(self, fake: FakeStripe) -> Catalog:
        if self.saved is None:
            self._build(fake)
        else:
            fake.restore_state(self.saved)
            self._insert_rows()
        plans = {config.slug: config for config in PlanConfiguration.objects.all()}
        return Catalog(plans=plans, meter_id=self.meter_id)

    def _build(self, fake: FakeStripe) -> None:
        before = _primary_keys()
        self.meter_id = create_catalog().meter_id
        added = [
            row
            for model, keys in _primary_keys().items()
            if (new := keys - before.get(model, set()))
            for row in model._base_manager.filter(pk__in=new)
        ]
        self.rows = _with_referenced_rows(added)
        self.saved = fake.save_state()
        # The build's events (product.created, ...) carry nothing the sync has not written:
        # dropped here as they are on every later restore, so every test starts alike.
        fake.restore_state(self.saved)

    def _insert_rows(self) -> None:
        # One transaction (a transactional test runs in autocommit): foreign keys are checked
        # at its commit, so the tables' order does not matter. A row the test has already
        # (dj-stripe's Account of the API key, say) is kept.
        with transaction.atomic():
            for model, rows in self.rows:
                copies = [copy.copy(row) for row in rows]
                model._base_manager.bulk_create(copies, ignore_conflicts=True)
            # Rows came back with their ids: move PostgreSQL's sequences past them.
            models = [model for model, _ in self.rows]
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)


def _with_referenced_rows(rows: list[Model]) -> list[tuple[type[Model], list[Model]]]:
    """`rows` and every row they reference, directly or not, grouped by model: the build may
    have linked new rows to rows that were there before it (an Account dj-stripe had synced),
    which a later test does not have."""
    found: dict[tuple[type[Model], Any], Model] = {(type(row), row.pk): row for row in rows}
    pending = list(rows)
    while pending:
        row = pending.pop()
        for field in row._meta.concrete_fields:
            value = getattr(row, field.attname)
            if not field.many_to_one and not field.one_to_one or value is None:
                continue
            target = field.related_model
            referenced = target._base_manager.get(**{field.target_field.attname: value})
            if (target, referenced.pk) not in found:
                found[(target, referenced.pk)] = referenced
                pending.append(referenced)
    grouped: dict[type[Model], list[Model]] = {}
    for (model, _), row in found.items():
        grouped.setdefault(model, []).append(row)
    return list(grouped.items())


def _primary_keys() -> dict[type[Model], set[Any]]:
    return {
        model: set(model._base_manager.values_list("pk", flat=True))
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def create_team_plans(
    *, seat_amount: int, small_cap: int
) -> tuple[PlanConfiguration, PlanConfiguration]:
    """Team (per seat, `seat_amount` a seat) and Small team (at most `small_cap` members),
    after the catalog's plans."""
    team = _product("Team", "team", order=4, per_seat=True, features={"api_access": True})
    _monthly(team, seat_amount)
    small = _product("Small team", "small-team", order=5, limits={"team_members": small_cap})
    _monthly(small, 4900)
    sync_products_and_prices()
    list(sync_plans(product_ids=[team.id, small.id]))
    return (
        PlanConfiguration.objects.get(slug="team"),
        PlanConfiguration.objects.get(slug="small-team"),
    )


# --- customers and subscriptions made in the offline Stripe ----------------------------------


def stripe_customer(*, user: Any, card: str = "pm_card_visa") -> stripe.Customer:
    """A Stripe customer of `user` (linked by dj-stripe's djstripe_subscriber metadata)."""
    return stripe.Customer.create(
        email=user.email,
        payment_method=card,
        invoice_settings={"default_payment_method": card},
        metadata={"djstripe_subscriber": str(user.pk)},
        **_options(),
    )


def stripe_subscription(*, user: Any, plan: PlanConfiguration) -> stripe.Subscription:
    """A subscription paid by card, created through the API (no checkout)."""
    customer = stripe_customer(user=user)
    items: list[dict[str, Any]] = [{"price": plan.stripe_price_id}]
    if plan.metered_price_id:
        items.append({"price": plan.metered_price_id})
    return stripe.Subscription.create(customer=customer.id, items=items, **_options())


def fail_next_payments(customer_id: str) -> None:
    """Make the customer's card decline from now on (their renewals fail)."""
    method = stripe.PaymentMethod.attach(
        "pm_card_chargeCustomerFail", customer=customer_id, **_options()
    )
    stripe.Customer.modify(
        customer_id, invoice_settings={"default_payment_method": method.id}, **_options()
    )
    # A subscription's own payment method (Checkout sets one) wins over the customer's.
    for subscription in stripe.Subscription.list(customer=customer_id, **_options()).data:
        if subscription.default_payment_method:
            stripe.Subscription.modify(
                subscription.id, default_payment_method=method.id, **_options()
            )
