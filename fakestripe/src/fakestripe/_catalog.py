from __future__ import annotations

# The catalog: products and prices (and each price's legacy ``plan`` view).
import re

from ._engine import State
from ._errors import StripeError, invalid, missing_param
from ._params import (
    Params,
    apply_metadata,
    bool_param,
    check_params,
    choice_param,
    decimal_param,
    dict_param,
    int_param,
    list_param,
    metadata_param,
    new_metadata,
    str_param,
    unknown_param,
)
from ._store import Obj, new_id
from ._timeutil import fmt_interval, fmt_money

_CURRENCY = re.compile(r"^[a-z]{3}$")
INTERVALS = ("day", "week", "month", "year")


# ----------------------------------------------------------------------------- customers


# ----------------------------------------------------------------------- payment methods


# -------------------------------------------------------------------------------- products

PRODUCT_CREATE = {
    "active",
    "default_price_data",
    "description",
    "id",
    "images",
    "marketing_features",
    "metadata",
    "name",
    "package_dimensions",
    "shippable",
    "statement_descriptor",
    "tax_code",
    "type",
    "unit_label",
    "url",
}
PRODUCT_UPDATE = (PRODUCT_CREATE - {"id", "default_price_data", "type"}) | {"default_price"}


def _features(p: Params) -> list[Obj] | None:
    raw = list_param(p, "marketing_features")
    if raw is None:
        return [] if p.get("marketing_features") == "" else None
    return [{"name": f.get("name") if isinstance(f, dict) else None} for f in raw]


def create_product(st: State, p: Params) -> Obj:
    check_params(p, PRODUCT_CREATE)
    name = str_param(p, "name", required=True)
    pid = str_param(p, "id") or new_id("prod", 14)
    if pid in st.objects or pid in st.deleted:
        raise invalid("Product already exists.", "id", "resource_already_exists")
    now = st.now()
    active = bool_param(p, "active")
    prod: Obj = {
        "id": pid,
        "object": "product",
        "active": True if active is None else active,
        "created": now,
        "default_price": None,
        "description": str_param(p, "description"),
        "images": tuple(list_param(p, "images") or ()),
        "livemode": False,
        "marketing_features": tuple(_features(p) or ()),
        "metadata": new_metadata(metadata_param(p)),
        "name": name,
        "package_dimensions": None,
        "shippable": bool_param(p, "shippable"),
        "statement_descriptor": str_param(p, "statement_descriptor"),
        "tax_code": str_param(p, "tax_code"),
        "type": choice_param(p, "type", ("service", "good")) or "service",
        "unit_label": str_param(p, "unit_label"),
        "updated": now,
        "url": str_param(p, "url"),
    }
    dpd = dict_param(p, "default_price_data")
    st.add(prod)
    st.emit("product.created", prod)
    if dpd is not None:
        price_params = dict(dpd)
        price_params["product"] = prod["id"]
        price = create_price(st, price_params, param_prefix="default_price_data")
        before = st.snapshot(prod)
        prod["default_price"] = price["id"]
        st.emit_update("product.updated", prod, before)
    return prod


def update_product(st: State, prod: Obj, p: Params) -> Obj:
    check_params(p, PRODUCT_UPDATE)
    before = st.snapshot(prod)
    if "name" in p:
        prod["name"] = str_param(p, "name", required=True)
    for key in ("description", "statement_descriptor", "tax_code", "unit_label", "url"):
        if key in p:
            prod[key] = str_param(p, key)
    if "active" in p:
        prod["active"] = bool(bool_param(p, "active"))
    if "shippable" in p:
        prod["shippable"] = bool_param(p, "shippable")
    if "images" in p:
        prod["images"] = tuple(list_param(p, "images") or ())
    if "marketing_features" in p:
        prod["marketing_features"] = tuple(_features(p) or ())
    if "default_price" in p:
        price_id = str_param(p, "default_price")
        if price_id is not None:
            price = st.get("price", price_id, "default_price")
            if price["product"] != prod["id"]:
                raise invalid("The default price must belong to this product.", "default_price")
        prod["default_price"] = price_id
    apply_metadata(prod["metadata"], metadata_param(p))
    if diff_keys(before, prod):
        prod["updated"] = st.now()
    st.save(prod)
    st.emit_update("product.updated", prod, before)
    return prod


def diff_keys(before: Obj, after: Obj) -> bool:
    return any(before.get(k) != after.get(k) for k in after if not k.startswith("_"))


def delete_product(st: State, prod: Obj) -> Obj:
    if len(st.colls["price"].candidates("product", prod["id"])):
        raise invalid(
            "This product cannot be deleted because it has one or more user-created prices.",
            "id",
            "product_has_prices",
        )
    stub = {"id": prod["id"], "object": "product", "deleted": True}
    st.remove(prod)
    st.emit("product.deleted", prod)
    return stub


# ---------------------------------------------------------------------------------- prices

PRICE_CREATE = {
    "active",
    "billing_scheme",
    "currency",
    "lookup_key",
    "metadata",
    "nickname",
    "product",
    "product_data",
    "recurring",
    "tax_behavior",
    "transfer_lookup_key",
    "unit_amount",
    "unit_amount_decimal",
}
PRICE_UNSUPPORTED = {
    "currency_options",
    "custom_unit_amount",
    "tiers",
    "tiers_mode",
    "transform_quantity",
}
PRICE_UPDATE = {
    "active",
    "lookup_key",
    "metadata",
    "nickname",
    "tax_behavior",
    "transfer_lookup_key",
}
RECURRING_KEYS = {"interval", "interval_count", "meter", "usage_type", "trial_period_days"}


def plan_of(st: State, price: Obj) -> Obj:
    plan = st.meta_of(price["id"]).get("plan")
    assert isinstance(plan, dict)
    return plan


def _sync_plan(st: State, price: Obj) -> None:
    rec = price["recurring"]
    if rec is None:
        return
    meta = st.meta_of(price["id"])
    plan = meta.get("plan")
    if plan is None:
        plan = {}
        meta["plan"] = plan
    plan.update(
        {
            "id": price["id"],
            "object": "plan",
            "active": price["active"],
            "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"],
            "billing_scheme": "per_unit",
            "created": price["created"],
            "currency": price["currency"],
            "interval": rec["interval"],
            "interval_count": rec["interval_count"],
            "livemode": False,
            "metadata": dict(price["metadata"]),
            "meter": rec["meter"],
            "nickname": price["nickname"],
            "product": price["product"],
            "tiers_mode": None,
            "transform_usage": None,
            "trial_period_days": rec["trial_period_days"],
            "usage_type": rec["usage_type"],
        }
    )


def _take_lookup_key(st: State, key: str, transfer: bool, param: str) -> None:
    for oid in list(st.colls["price"].candidates("lookup_key", key)):
        other = st.objects[oid]
        if not transfer:
            raise invalid(
                f"A price (`{oid}`) already uses that lookup key.",
                param,
                "lookup_key_already_exists",
            )
        before = st.snapshot(other)
        other["lookup_key"] = None
        st.save(other)
        st.emit_update("price.updated", other, before)


def create_price(st: State, p: Params, param_prefix: str = "") -> Obj:
    def name(key: str) -> str:
        return f"{param_prefix}[{key}]" if param_prefix else key

    if not param_prefix:
        check_params(p, PRICE_CREATE, PRICE_UNSUPPORTED)
    currency = str_param(p, "currency", required=True, param=name("currency"))
    assert currency is not None
    currency = currency.lower()
    if not _CURRENCY.match(currency):
        raise invalid(f"Invalid currency: {currency}.", name("currency"))
    unit_amount = int_param(p, "unit_amount", param=name("unit_amount"), minimum=0)
    unit_dec = decimal_param(p, "unit_amount_decimal", param=name("unit_amount_decimal"))
    product_id = str_param(p, "product", param=name("product"))
    product_data = dict_param(p, "product_data")
    if product_id is None and product_data is None:
        raise missing_param(name("product"))
    if product_id is not None and product_data is not None:
        raise invalid(
            "You may only specify one of these parameters: product, product_data.", "product"
        )
    if product_id is not None:
        st.get("product", product_id, name("product"))
    billing_scheme = choice_param(p, "billing_scheme", ("per_unit", "tiered"))
    if billing_scheme == "tiered":
        raise StripeError(
            400,
            "fakestripe does not implement tiered prices.",
            param="billing_scheme",
            code="parameter_unknown",
        )
    if unit_amount is not None and unit_dec is not None:
        raise invalid(
            "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
            name("unit_amount"),
        )
    if unit_amount is None and unit_dec is None:
        raise missing_param(name("unit_amount"))
    if unit_dec is not None:
        dec_value = float(unit_dec)
        unit_amount = int(dec_value) if dec_value == int(dec_value) else None
    else:
        unit_dec = str(unit_amount)
    rec_raw = dict_param(p, "recurring")
    recurring = _recurring(st, rec_raw, name("recurring")) if rec_raw is not None else None
    lookup_key = str_param(p, "lookup_key")
    if lookup_key is not None:
        _take_lookup_key(st, lookup_key, bool(bool_param(p, "transfer_lookup_key")), "lookup_key")
    if product_data is not None:
        pdata = dict(product_data)
        if not pdata.get("name"):
            raise missing_param("product_data[name]")
        product_id = create_product(st, pdata)["id"]
    assert product_id is not None
    price = price_object(st, p, product_id, currency, recurring, (unit_amount, unit_dec))
    st.add(price)
    _sync_plan(st, price)
    st.emit("price.created", price)
    return price


def _recurring(st: State, rec_raw: Obj, param: str) -> Obj:
    """A price's ``recurring`` hash from its params (``param`` names it in errors)."""
    for k in rec_raw:
        if k not in RECURRING_KEYS:
            raise unknown_param(f"{param}[{k}]")
    interval = choice_param(rec_raw, "interval", INTERVALS, param=f"{param}[interval]")
    if interval is None:
        raise missing_param(f"{param}[interval]")
    count = int_param(rec_raw, "interval_count", param="recurring[interval_count]", minimum=1) or 1
    max_count = {"day": 1095, "week": 156, "month": 36, "year": 3}[interval]
    if count > max_count:
        raise invalid("The maximum billing frequency is three years.", "recurring[interval_count]")
    usage = (
        choice_param(rec_raw, "usage_type", ("licensed", "metered"), "recurring[usage_type]")
        or "licensed"
    )
    meter_id = str_param(rec_raw, "meter", param="recurring[meter]")
    if usage == "metered":
        if meter_id is None:
            raise invalid(
                "Metered prices must be backed by a meter. Pass `recurring[meter]` with "
                "the ID of an active billing meter.",
                "recurring[meter]",
                "parameter_missing",
            )
        meter = st.get("billing.meter", meter_id, "recurring[meter]")
        if meter["status"] != "active":
            raise invalid("The meter must be active.", "recurring[meter]")
    elif meter_id is not None:
        raise invalid(
            "`recurring[meter]` can only be set when `recurring[usage_type]` is `metered`.",
            "recurring[meter]",
        )
    return {
        "interval": interval,
        "interval_count": count,
        "meter": meter_id,
        "trial_period_days": int_param(rec_raw, "trial_period_days"),
        "usage_type": usage,
    }


def price_object(
    st: State,
    p: Params,
    product_id: str,
    currency: str,
    recurring: Obj | None,
    unit_amount: tuple[int | None, str | None],
) -> Obj:
    """A price for the (checked) create params ``p``; ``unit_amount`` is (integer, decimal)."""
    active = bool_param(p, "active")
    return {
        "id": new_id("price"),
        "object": "price",
        "active": True if active is None else active,
        "billing_scheme": "per_unit",
        "created": st.now(),
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": str_param(p, "lookup_key"),
        "metadata": new_metadata(metadata_param(p)),
        "nickname": str_param(p, "nickname"),
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": choice_param(p, "tax_behavior", ("exclusive", "inclusive", "unspecified"))
        or "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount[0],
        "unit_amount_decimal": unit_amount[1],
    }


def update_price(st: State, price: Obj, p: Params) -> Obj:
    check_params(p, PRICE_UPDATE, {"currency_options"})
    before = st.snapshot(price)
    if "active" in p:
        price["active"] = bool(bool_param(p, "active"))
    if "nickname" in p:
        price["nickname"] = str_param(p, "nickname")
    if "tax_behavior" in p:
        price["tax_behavior"] = choice_param(
            p, "tax_behavior", ("exclusive", "inclusive", "unspecified")
        )
    if "lookup_key" in p:
        key = str_param(p, "lookup_key")
        if key is not None and key != price["lookup_key"]:
            _take_lookup_key(st, key, bool(bool_param(p, "transfer_lookup_key")), "lookup_key")
        price["lookup_key"] = key
    apply_metadata(price["metadata"], metadata_param(p))
    st.save(price)
    _sync_plan(st, price)
    st.emit_update("price.updated", price, before)
    return price


def product_name(st: State, price: Obj) -> str:
    prod = st.objects.get(price["product"])
    return str(prod["name"]) if prod else str(price["product"])


def default_amount(price: Obj) -> float:
    """Unit amount in minor units, honouring ``unit_amount_decimal``."""
    return float(price["unit_amount_decimal"])


def price_label(st: State, price: Obj) -> str:
    amount = fmt_money(default_amount(price), price["currency"])
    rec = price["recurring"]
    if rec is None:
        return amount
    per = fmt_interval(rec["interval"], rec["interval_count"])
    if rec["usage_type"] == "metered":
        return f"{amount} per unit / {per}"
    return f"{amount} / {per}"
