"""Plans from Stripe products (advanced mode): `manage.py billing_sync_plans`.

Every active product with an active recurring price becomes a `PlanConfiguration` (once; with
`update=True` existing plans are refreshed). Product metadata, all optional, shapes the plan:

    plan_slug       the plan's slug (default: the product name, slugified)
    features        JSON object, e.g. {"api_access": true, "advanced_analytics": true}
    limits          JSON object of usage limits per period, e.g. {"api_calls": 10000}
    is_popular      "true" to highlight the plan
    per_seat        "true" for a team plan billed per member (quantity = the member count)
    display_order   an integer; plans are listed in this order, then by creation
    metered_metric  the metric reported to the Billing Meter of the product's metered price
                    (default: the only key of `limits`, else the meter's event name)

The subscribed price is the product's default price if it is a licensed recurring price, else
its cheapest licensed recurring price; a recurring price with `usage_type=metered` and a
`sum` meter becomes the plan's metered price (added to checkout, billed from `record_usage`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import stripe
from django.db import transaction
from django.utils.text import slugify
from djstripe.models import Price, Product

from .models import PlanConfiguration
from .stripe_api import request_options, secret_key

logger = logging.getLogger(__name__)

#: The plan limits advanced mode enforces (the pricing page lists only these): None, all of
#: them. Seats are counted by the teams app, every other limit by `usage.usage_limit`.
ENFORCED_LIMITS: frozenset[str] | None = None

TRUE_VALUES = ("1", "true", "yes", "on")


def sync_products_and_prices(*, api_key: str | None = None) -> tuple[int, int]:
    """Mirror every product and price of the Stripe account (dj-stripe's sync, per object)."""
    key = api_key or secret_key()
    products = prices = 0
    for data in Product.api_list(api_key=key):
        Product.sync_from_stripe_data(data, api_key=key)
        products += 1
    for data in Price.api_list(api_key=key):
        Price.sync_from_stripe_data(data, api_key=key)
        prices += 1
    return products, prices


def _json_object(product: Product, key: str) -> dict[str, Any]:
    raw = (product.metadata or {}).get(key)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        logger.warning("Product %s: metadata[%s] is not JSON; ignored", product.id, key)
        return {}
    if not isinstance(value, dict):
        logger.warning("Product %s: metadata[%s] is not a JSON object; ignored", product.id, key)
        return {}
    return value


def _recurring(price: Price) -> dict[str, Any]:
    recurring = price.recurring
    return dict(recurring) if isinstance(recurring, dict) else {}


def _licensed_price(product: Product, prices: list[Price]) -> Price | None:
    licensed = [
        price
        for price in prices
        if _recurring(price) and _recurring(price).get("usage_type", "licensed") == "licensed"
    ]
    default_id = (product.stripe_data or {}).get("default_price")
    if isinstance(default_id, dict):
        default_id = default_id.get("id")
    for price in licensed:
        if price.id == default_id:
            return price
    licensed.sort(key=lambda price: (price.unit_amount or 0, price.id))
    return licensed[0] if licensed else None


def _metered_price(prices: list[Price]) -> Price | None:
    for price in prices:
        recurring = _recurring(price)
        if recurring.get("usage_type") == "metered" and recurring.get("meter"):
            return price
    return None


def _meter(meter_id: str, api_key: str | None) -> Any:
    return stripe.billing.Meter.retrieve(meter_id, **request_options(api_key=api_key))


def plan_fields(
    product: Product, index: int, *, api_key: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The fields of the product's plan, and warnings; {} if it sells no recurring price."""
    notes: list[str] = []
    prices = list(Price.objects.filter(product=product, active=True).order_by("created"))
    licensed = _licensed_price(product, prices)
    metered = _metered_price(prices)
    price = licensed or metered
    if price is None:
        return {}, [f"skipped {product.id} ({product.name}): no active recurring price"]
    metadata = product.metadata or {}
    limits = _json_object(product, "limits")
    fields: dict[str, Any] = {
        "stripe_price": price,
        "name": product.name,
        "slug": slugify(metadata.get("plan_slug") or product.name)[:50] or product.id.lower(),
        "features": _json_object(product, "features"),
        "limits": limits,
        "is_popular": str(metadata.get("is_popular", "")).lower() in TRUE_VALUES,
        "per_seat": str(metadata.get("per_seat", "")).lower() in TRUE_VALUES,
        "display_order": index,
        "metered_price": None,
        "metered_metric": "",
        "meter_event_name": "",
    }
    try:
        fields["display_order"] = int(metadata.get("display_order", index))
    except (TypeError, ValueError):
        notes.append(f"{product.id}: display_order is not an integer; ignored")
    if metered is not None:
        meter = _meter(str(_recurring(metered)["meter"]), api_key)
        formula = (meter.get("default_aggregation") or {}).get("formula")
        if formula != "sum":
            notes.append(
                f"{product.id}: meter {meter.get('id')} aggregates with {formula!r}; usage is "
                "reported as summed values, so it is not metered (use a sum meter)"
            )
        else:
            default_metric = next(iter(limits)) if len(limits) == 1 else meter["event_name"]
            fields.update(
                metered_price=metered,
                metered_metric=str(metadata.get("metered_metric") or default_metric)[:100],
                meter_event_name=str(meter["event_name"]),
            )
    return fields, notes


def sync_plans(
    *,
    update: bool = False,
    by_slug: bool = False,
    product_ids: Iterable[str] | None = None,
    api_key: str | None = None,
) -> Iterator[str]:
    """Create missing plans (and refresh existing ones if `update`); yields what it did.

    A plan is the same plan when it has the same product, or with `by_slug` the same slug
    (the offline Stripe of `make run` starts empty, with new ids, on every run).
    `product_ids` limits the sync to these products.
    """
    products = Product.objects.filter(active=True).order_by("created", "djstripe_id")
    if product_ids is not None:
        products = products.filter(id__in=list(product_ids))
    for index, product in enumerate(products):
        fields, notes = plan_fields(product, index, api_key=api_key)
        yield from notes
        if not fields:
            continue
        existing = PlanConfiguration.objects.filter(stripe_product=product).first()
        if existing is None and by_slug:
            existing = PlanConfiguration.objects.filter(slug=fields["slug"]).first()
        if existing is not None and not update:
            yield f"kept {existing.slug} ({product.id})"
            continue
        taken = PlanConfiguration.objects.filter(slug=fields["slug"])
        if existing is not None:
            taken = taken.exclude(pk=existing.pk)
        if taken.exists():
            yield f"skipped {product.id}: slug {fields['slug']!r} is used by another plan"
            continue
        with transaction.atomic():
            if existing is None:
                plan = PlanConfiguration.objects.create(stripe_product=product, **fields)
            else:
                plan = existing
                for name, value in {"stripe_product": product, **fields}.items():
                    setattr(plan, name, value)
                plan.save()
        yield f"{'created' if existing is None else 'updated'} {plan.slug} ({product.id})"
