from __future__ import annotations

# Customer Portal configurations (/v1/billing_portal/configurations): what the hosted portal
# offers — plan changes (which prices, whether the quantity is adjustable) and cancellation.
from typing import Any

from ._engine import State
from ._errors import invalid
from ._invoice_lines import is_metered
from ._params import (
    Params,
    apply_metadata,
    bool_param,
    check_params,
    choice_param,
    dict_param,
    int_param,
    list_param,
    metadata_param,
    str_param,
    unknown_param,
)
from ._store import Obj, new_id, stripe_object

CONFIG_KEYS = {"business_profile", "default_return_url", "features", "metadata", "name"}
CONFIG_UPDATE_KEYS = CONFIG_KEYS | {"active"}
CONFIG_UNSUPPORTED = {"login_page"}
UPDATES = ("price", "promotion_code", "quantity")
PRORATION = ("always_invoice", "create_prorations", "none")


def configuration_object(st: State, is_default: bool) -> Obj:
    """A configuration with Stripe's defaults: invoices and card updates on, cancellation at
    period end, plan changes between prices without quantity."""
    now = st.now()
    fields: Obj = {
        "active": True,
        "business_profile": {
            "headline": None,
            "privacy_policy_url": None,
            "terms_of_service_url": None,
        },
        "created": now,
        "features": {
            "customer_update": {"allowed_updates": (), "enabled": False},
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True, "payment_method_configuration": None},
            "subscription_cancel": {
                "cancellation_reason": {"enabled": False, "options": ()},
                "enabled": True,
                "mode": "at_period_end",
                "proration_behavior": "none",
            },
            "subscription_update": {
                "billing_cycle_anchor": None,
                "default_allowed_updates": ["price"],
                "enabled": True,
                "products": None,
                "proration_behavior": "create_prorations",
                "schedule_at_period_end": {"conditions": ()},
                "trial_update_behavior": "end_trial",
            },
        },
        "is_default": is_default,
        "livemode": False,
        "login_page": {"enabled": False, "url": None},
        "metadata": {},
        "updated": now,
    }
    nulls = "application default_return_url name"
    return stripe_object(new_id("bpc"), "billing_portal.configuration", fields, nulls)


def default_configuration(st: State) -> Obj:
    """The account's default configuration, made on first use."""
    for config in st.colls["billing_portal.configuration"].by_id.values():
        if config["is_default"]:
            return config
    return st.add(configuration_object(st, is_default=True))


def create_configuration(st: State, p: Params) -> Obj:
    check_params(p, CONFIG_KEYS, CONFIG_UNSUPPORTED)
    if dict_param(p, "features") is None:
        raise invalid("Missing required param: features.", "features", "parameter_missing")
    config = configuration_object(st, is_default=False)
    _apply(st, config, p)
    return st.add(config)


def update_configuration(st: State, config: Obj, p: Params) -> Obj:
    check_params(p, CONFIG_UPDATE_KEYS, CONFIG_UNSUPPORTED)
    active = bool_param(p, "active")
    if active is False and config["is_default"]:
        raise invalid("The default configuration cannot be deactivated.", "active")
    if active is not None:
        config["active"] = active
    _apply(st, config, p)
    config["updated"] = st.now()
    st.save(config)
    return config


def _apply(st: State, config: Obj, p: Params) -> None:
    if "name" in p:
        config["name"] = str_param(p, "name")
    if "default_return_url" in p:
        config["default_return_url"] = str_param(p, "default_return_url")
    profile = dict_param(p, "business_profile") or {}
    for key in ("headline", "privacy_policy_url", "terms_of_service_url"):
        if key in profile:
            config["business_profile"][key] = str_param(profile, key) or None
    apply_metadata(config["metadata"], metadata_param(p))
    features = dict_param(p, "features") or {}
    for key in features:
        if key not in config["features"]:
            raise unknown_param(f"features[{key}]")
    for key in ("invoice_history", "payment_method_update", "customer_update"):
        flag = bool_param(features.get(key) or {}, "enabled", f"features[{key}][enabled]")
        if flag is not None:
            config["features"][key]["enabled"] = flag
    _apply_cancel(config, dict_param(features, "subscription_cancel") or {})
    _apply_update(st, config, dict_param(features, "subscription_update") or {})


def _apply_cancel(config: Obj, raw: Obj) -> None:
    cancel = config["features"]["subscription_cancel"]
    base = "features[subscription_cancel]"
    enabled = bool_param(raw, "enabled", f"{base}[enabled]")
    if enabled is not None:
        cancel["enabled"] = enabled
    mode = choice_param(raw, "mode", ("at_period_end", "immediately"), f"{base}[mode]")
    if mode is not None:
        cancel["mode"] = mode
    proration = choice_param(raw, "proration_behavior", PRORATION, f"{base}[proration_behavior]")
    if proration is not None:
        cancel["proration_behavior"] = proration


def _apply_update(st: State, config: Obj, raw: Obj) -> None:
    update = config["features"]["subscription_update"]
    base = "features[subscription_update]"
    enabled = bool_param(raw, "enabled", f"{base}[enabled]")
    if enabled is not None:
        update["enabled"] = enabled
    if "default_allowed_updates" in raw:
        allowed = list_param(raw, "default_allowed_updates") or []
        for n, value in enumerate(allowed):
            if value not in UPDATES:
                raise invalid(
                    f"Invalid {base}[default_allowed_updates][{n}]: must be one of "
                    f"{', '.join(UPDATES)}",
                    f"{base}[default_allowed_updates][{n}]",
                )
        update["default_allowed_updates"] = list(allowed)
    proration = choice_param(raw, "proration_behavior", PRORATION, f"{base}[proration_behavior]")
    if proration is not None:
        update["proration_behavior"] = proration
    if "products" in raw:
        update["products"] = [
            _product_entry(st, entry, f"{base}[products][{n}]")
            for n, entry in enumerate(list_param(raw, "products") or [])
        ]


def _product_entry(st: State, raw: Any, base: str) -> Obj:
    if not isinstance(raw, dict):
        raise invalid("Invalid object", base)
    product = st.get("product", str_param(raw, "product", required=True), f"{base}[product]")
    prices: list[str] = []
    for n, pid in enumerate(list_param(raw, "prices") or []):
        price = st.get("price", pid, f"{base}[prices][{n}]")
        if price["product"] != product["id"]:
            raise invalid(
                f"The price {pid} does not belong to the product {product['id']}.",
                f"{base}[prices][{n}]",
            )
        prices.append(price["id"])
    if not prices:
        raise invalid("Missing required param: prices.", f"{base}[prices]", "parameter_missing")
    adjustable = dict_param(raw, "adjustable_quantity", f"{base}[adjustable_quantity]") or {}
    qbase = f"{base}[adjustable_quantity]"
    return {
        "adjustable_quantity": {
            "enabled": bool(bool_param(adjustable, "enabled", f"{qbase}[enabled]")),
            "maximum": int_param(adjustable, "maximum", param=f"{qbase}[maximum]", minimum=1),
            "minimum": int_param(adjustable, "minimum", param=f"{qbase}[minimum]", minimum=0) or 0,
        },
        "prices": prices,
        "product": product["id"],
    }


# ------------------------------------------------------------ what the portal offers


def plan_choices(st: State, config: Obj, current: Obj) -> list[Obj]:
    """The prices a subscription on ``current`` may switch to in the portal."""
    update = config["features"]["subscription_update"]
    if not update["enabled"] or "price" not in update["default_allowed_updates"]:
        return [current]
    if update["products"] is None:
        allowed = [
            p
            for p in reversed(list(st.colls["price"].by_id.values()))
            if p["active"] and p["recurring"] is not None and not is_metered(p)
        ]
    else:
        ids = [pid for entry in update["products"] for pid in entry["prices"]]
        allowed = [st.objects[pid] for pid in ids if pid in st.objects]
    choices = [p for p in allowed if p["currency"] == current["currency"]]
    return choices if any(p["id"] == current["id"] for p in choices) else [current, *choices]


def quantity_limits(config: Obj, price: Obj) -> tuple[int, int | None] | None:
    """``(minimum, maximum)`` when the portal lets the customer set the quantity of
    ``price`` (a per-seat, licensed price the configuration allows it for); else None."""
    update = config["features"]["subscription_update"]
    if not update["enabled"] or is_metered(price):
        return None
    if update["products"] is None:
        return (1, None) if "quantity" in update["default_allowed_updates"] else None
    for entry in update["products"]:
        if price["id"] in entry["prices"] and entry["adjustable_quantity"]["enabled"]:
            limits = entry["adjustable_quantity"]
            return (max(1, limits["minimum"]), limits["maximum"])
    return None
