"""Seed data (``--seed-plans``, ``FakeStripe(seed=...)``): meters, products with their
prices, coupons with their promotion codes, and webhook endpoints, created through the same
code as the API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._catalog import create_price, create_product
from ._discounts import create_coupon, create_promotion_code
from ._engine import State
from ._meters import create_meter
from ._store import Obj

#: ``create_endpoint(url, enabled_events, secret)``
CreateEndpoint = Callable[[str, tuple[str, ...], "str | None"], Obj]


def load_seed(
    state: State, data: Mapping[str, Any] | list[Any], create_endpoint: CreateEndpoint
) -> dict[str, str]:
    """Create products/prices/meters (see ``__main__`` for the JSON format).

    Returns a mapping of lookup keys / meter event names to created ids.
    """
    seed_data: Mapping[str, Any] = {"products": data} if isinstance(data, list) else data
    created: dict[str, str] = {}
    with state.lock:
        st = state
        for meter in seed_data.get("meters", []):
            obj = create_meter(st, seed_params(meter))
            created[obj["event_name"]] = obj["id"]
        for product in seed_data.get("products", []):
            prod_params = {k: v for k, v in product.items() if k != "prices"}
            prod = create_product(st, seed_params(prod_params))
            created[prod["id"]] = prod["id"]
            for price in product.get("prices", []):
                pp = dict(price)
                pp["product"] = prod["id"]
                rec = dict(pp.get("recurring") or {})
                if rec.get("meter") in created:
                    rec["meter"] = created[rec["meter"]]
                if rec:
                    pp["recurring"] = rec
                obj = create_price(st, seed_params(pp))
                created[obj["lookup_key"] or obj["id"]] = obj["id"]
        for coupon in seed_data.get("coupons", []):
            _seed_coupon(st, coupon, created)
        for ep in seed_data.get("webhook_endpoints", []):
            events = tuple(ep.get("enabled_events", ["*"]))
            obj = create_endpoint(ep["url"], events, ep.get("secret"))
            created[ep["url"]] = obj["id"]
    return created


def _seed_coupon(st: State, coupon: Mapping[str, Any], created: dict[str, str]) -> None:
    """A coupon and its ``promotion_codes`` (each keyed by its code in ``created``)."""
    params = {k: v for k, v in coupon.items() if k != "promotion_codes"}
    obj = create_coupon(st, seed_params(params))
    created[obj["id"]] = obj["id"]
    for code in coupon.get("promotion_codes", []):
        promo_params = seed_params(dict(code))
        promo_params["promotion"] = {"type": "coupon", "coupon": obj["id"]}
        promo = create_promotion_code(st, promo_params)
        created[promo["code"]] = promo["id"]


def seed_params(value: Any) -> Any:
    """Convert JSON seed data into the string-valued params the API layer expects."""
    if isinstance(value, dict):
        return {str(k): seed_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [seed_params(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
