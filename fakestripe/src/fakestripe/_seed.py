"""Seed data (``--seed-plans``, ``FakeStripe(seed=...)``): meters, products with their
prices, and webhook endpoints, created through the same code as the API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._catalog import create_price, create_product
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
        for ep in seed_data.get("webhook_endpoints", []):
            events = tuple(ep.get("enabled_events", ["*"]))
            obj = create_endpoint(ep["url"], events, ep.get("secret"))
            created[ep["url"]] = obj["id"]
    return created


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
