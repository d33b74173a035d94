from __future__ import annotations

# Customers, payment methods, products and prices.
import re
import string
from datetime import UTC, datetime

from ._cards import TestCard, lookup_number, shortcut_card
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
from ._store import Obj, new_id, rand_str

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[a-z]{3}$")
INTERVALS = ("day", "week", "month", "year")
_ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


def _address(p: Params, key: str) -> Obj | None:
    raw = dict_param(p, key)
    if raw is None:
        return None
    for k in raw:
        if k not in _ADDRESS_KEYS:
            raise invalid(f"Received unknown parameter: {key}[{k}]", f"{key}[{k}]")
    return {k: (raw.get(k) or None) for k in _ADDRESS_KEYS}


def _email(p: Params, key: str = "email") -> str | None:
    email = str_param(p, key)
    if email is not None and not _EMAIL.match(email):
        raise invalid(f"Invalid email address: {email}", key, "email_invalid")
    return email


# ----------------------------------------------------------------------------- customers

CUSTOMER_CREATE = {
    "address",
    "balance",
    "business_name",
    "cash_balance",
    "description",
    "email",
    "individual_name",
    "invoice_prefix",
    "invoice_settings",
    "metadata",
    "name",
    "next_invoice_sequence",
    "payment_method",
    "phone",
    "preferred_locales",
    "shipping",
    "tax",
    "tax_exempt",
    "validate",
}
CUSTOMER_UPDATE = (CUSTOMER_CREATE - {"payment_method"}) | {"default_source"}
CUSTOMER_UNSUPPORTED = {"source", "tax_id_data", "test_clock", "default_source"}


def create_customer(st: State, p: Params) -> Obj:
    check_params(p, CUSTOMER_CREATE, CUSTOMER_UNSUPPORTED)
    cus: Obj = {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": _address(p, "address"),
        "balance": int_param(p, "balance") or 0,
        "business_name": str_param(p, "business_name"),
        "created": st.now(),
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": str_param(p, "description"),
        "discount": None,
        "email": _email(p),
        "individual_name": str_param(p, "individual_name"),
        "invoice_prefix": str_param(p, "invoice_prefix")
        or rand_str(8, string.ascii_uppercase + string.digits),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": new_metadata(metadata_param(p)),
        "name": str_param(p, "name"),
        "next_invoice_sequence": int_param(p, "next_invoice_sequence", minimum=1) or 1,
        "phone": str_param(p, "phone"),
        "preferred_locales": tuple(list_param(p, "preferred_locales") or ()),
        "shipping": None,
        "tax_exempt": choice_param(p, "tax_exempt", ("none", "exempt", "reverse")) or "none",
        "test_clock": None,
    }
    settings = dict_param(p, "invoice_settings") or {}
    default_pm_param = str_param(settings, "default_payment_method")
    pm_param = str_param(p, "payment_method")
    # Validate everything before creating anything.
    pm: Obj | None = None
    if pm_param is not None:
        pm = resolve_pm(st, pm_param, "payment_method", create=True)
        if pm.get("customer"):
            raise already_attached()
        check_attachable(st, pm)
    if default_pm_param is not None and pm is not None and default_pm_param == pm["id"]:
        default_pm_param = pm_param
    if default_pm_param is not None and default_pm_param != pm_param:
        # A new customer has no other attached payment methods yet.
        st.get("payment_method", default_pm_param, "invoice_settings[default_payment_method]")
        raise not_attached(default_pm_param, "invoice_settings[default_payment_method]")
    if pm is not None and default_pm_param is not None:
        cus["invoice_settings"]["default_payment_method"] = pm["id"]
    st.add(cus)
    st.emit("customer.created", cus)
    if pm is not None:
        attach_pm(st, pm, cus)
    return cus


def update_customer(st: State, cus: Obj, p: Params) -> Obj:
    check_params(p, CUSTOMER_UPDATE, CUSTOMER_UNSUPPORTED)
    before = st.snapshot(cus)
    for key in ("description", "name", "phone", "business_name", "individual_name"):
        if key in p:
            cus[key] = str_param(p, key)
    if "email" in p:
        cus["email"] = _email(p)
    if "address" in p:
        cus["address"] = _address(p, "address")
    if "balance" in p:
        cus["balance"] = int_param(p, "balance") or 0
    if "invoice_prefix" in p:
        cus["invoice_prefix"] = str_param(p, "invoice_prefix") or cus["invoice_prefix"]
    if "preferred_locales" in p:
        cus["preferred_locales"] = tuple(list_param(p, "preferred_locales") or ())
    if "tax_exempt" in p:
        cus["tax_exempt"] = choice_param(p, "tax_exempt", ("none", "exempt", "reverse")) or "none"
    apply_metadata(cus["metadata"], metadata_param(p))
    settings = dict_param(p, "invoice_settings")
    if settings is not None and "default_payment_method" in settings:
        pm_id = str_param(settings, "default_payment_method")
        if pm_id is not None:
            pm = resolve_pm(st, pm_id, "invoice_settings[default_payment_method]", create=True)
            if pm.get("customer") is None and shortcut_card(pm_id) is not None:
                attach_pm(st, pm, cus)
            elif pm.get("customer") != cus["id"]:
                raise not_attached(pm_id, "invoice_settings[default_payment_method]")
            pm_id = pm["id"]
        cus["invoice_settings"]["default_payment_method"] = pm_id
    st.save(cus)
    st.emit_update("customer.updated", cus, before)
    return cus


def delete_customer(st: State, cus: Obj) -> Obj:
    from ._subs import cancel_subscription

    for sub in list(st.colls["subscription"].candidates("customer", cus["id"])):
        obj = st.objects[sub]
        if obj["status"] not in ("canceled", "incomplete_expired"):
            cancel_subscription(st, obj, reason="cancellation_requested")
    stub = {"id": cus["id"], "object": "customer", "deleted": True}
    st.remove(cus, stub)
    st.emit("customer.deleted", cus)
    return stub


# ----------------------------------------------------------------------- payment methods

PM_CREATE = {
    "type",
    "card",
    "billing_details",
    "metadata",
    "allow_redisplay",
    "customer",
    "payment_method",
}
PM_UPDATE = {"billing_details", "card", "metadata", "allow_redisplay"}


def already_attached() -> StripeError:
    return invalid(
        "The payment method you provided has already been attached to a customer.",
        "payment_method",
        "payment_method_unexpected_state",
    )


def not_attached(pm_id: str, param: str) -> StripeError:
    return invalid(
        f"The customer does not have a payment method with the ID {pm_id}. The payment method "
        "must be attached to the customer.",
        param,
        "resource_missing",
    )


def _billing_details(raw: Obj | None) -> Obj:
    raw = raw or {}
    found = raw.get("address")
    addr: Obj = found if isinstance(found, dict) else {}
    return {
        "address": {k: (addr.get(k) or None) for k in _ADDRESS_KEYS},
        "email": raw.get("email") or None,
        "name": raw.get("name") or None,
        "phone": raw.get("phone") or None,
        "tax_id": raw.get("tax_id") or None,
    }


def make_card_pm(
    st: State,
    card: TestCard,
    exp_month: int | None = None,
    exp_year: int | None = None,
    billing: Obj | None = None,
    cvc_checked: bool = False,
) -> Obj:
    today = datetime.fromtimestamp(st.now(), UTC)
    pm: Obj = {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": _billing_details(billing),
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass" if cvc_checked else None,
            },
            "country": card.country,
            "display_brand": card.brand,
            "exp_month": exp_month or today.month,
            "exp_year": exp_year or today.year + 3,
            "fingerprint": card.fingerprint,
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": (card.brand,), "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": st.now(),
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }
    st.add(pm)
    st.meta_of(pm["id"]).update(card=card, authenticated=False)
    return pm


def card_of(st: State, pm: Obj) -> TestCard:
    card = st.meta_of(pm["id"]).get("card")
    assert isinstance(card, TestCard)
    return card


def resolve_pm(st: State, pm_id: str, param: str, create: bool = False) -> Obj:
    """Look up a payment method; ``pm_card_*`` test ids create a fresh one."""
    card = shortcut_card(pm_id)
    if card is not None and create:
        return make_card_pm(st, card)
    if card is not None:
        raise not_attached(pm_id, param)
    return st.get("payment_method", pm_id, param)


def check_attachable(st: State, pm: Obj) -> None:
    card = card_of(st, pm)
    if card.attach_error is not None:
        raise card.attach_error.error()


def attach_pm(st: State, pm: Obj, cus: Obj) -> Obj:
    if pm.get("customer") == cus["id"]:
        return pm
    if pm.get("customer"):
        raise already_attached()
    check_attachable(st, pm)
    pm["customer"] = cus["id"]
    st.save(pm)
    st.emit("payment_method.attached", pm)
    return pm


def detach_pm(st: State, pm: Obj) -> Obj:
    cus_id = pm.get("customer")
    if not cus_id:
        raise invalid(
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible.",
            "payment_method",
            "payment_method_unexpected_state",
        )
    pm["customer"] = None
    st.save(pm)
    st.emit("payment_method.detached", pm, {"customer": cus_id})
    cus = st.colls["customer"].get(cus_id)
    if cus is not None and cus["invoice_settings"]["default_payment_method"] == pm["id"]:
        before = st.snapshot(cus)
        cus["invoice_settings"]["default_payment_method"] = None
        st.emit_update("customer.updated", cus, before)
    return pm


def _int_field(raw: Obj, key: str, param: str) -> int | None:
    return int_param(raw, key, param=param)


def create_pm(st: State, p: Params) -> Obj:
    check_params(p, PM_CREATE)
    if str_param(p, "payment_method") is not None:
        raise StripeError(
            400,
            "fakestripe does not implement cloning payment methods (Connect).",
            param="payment_method",
            code="parameter_unknown",
        )
    ptype = str_param(p, "type", required=True)
    if ptype != "card":
        raise invalid(
            f"fakestripe only supports `type=card` payment methods, not `{ptype}`.", "type"
        )
    raw = dict_param(p, "card")
    if raw is None:
        raise missing_param("card")
    if "token" in raw:
        card = shortcut_card(str(raw["token"]))
        if card is None:
            raise invalid(f"No such token: '{raw['token']}'", "card[token]", "resource_missing")
        exp_m, exp_y = None, None
    else:
        card = lookup_number(str(raw.get("number", "")))
        exp_m = _int_field(raw, "exp_month", "card[exp_month]")
        exp_y = _int_field(raw, "exp_year", "card[exp_year]")
        if exp_m is None:
            raise missing_param("card[exp_month]")
        if exp_y is None:
            raise missing_param("card[exp_year]")
        validate_expiry(st, exp_m, exp_y)
    pm = make_card_pm(st, card, exp_m, exp_y, dict_param(p, "billing_details"), "cvc" in raw)
    apply_metadata(pm["metadata"], metadata_param(p))
    if "allow_redisplay" in p:
        pm["allow_redisplay"] = choice_param(
            p, "allow_redisplay", ("always", "limited", "unspecified")
        )
    cus_id = str_param(p, "customer")
    if cus_id is not None:
        attach_pm(st, pm, st.get("customer", cus_id, "customer"))
    return pm


def validate_expiry(st: State, month: int, year: int) -> None:
    if not 1 <= month <= 12:
        raise StripeError(
            402,
            "Your card's expiration month is invalid.",
            type="card_error",
            code="invalid_expiry_month",
            param="exp_month",
        )
    if year < 100:
        year += 2000
    today = datetime.fromtimestamp(st.now(), UTC)
    if year < today.year or (year == today.year and month < today.month):
        raise StripeError(
            402,
            "Your card's expiration year is in the past.",
            type="card_error",
            code="invalid_expiry_year",
            param="exp_year",
        )


def update_pm(st: State, pm: Obj, p: Params) -> Obj:
    check_params(p, PM_UPDATE)
    before = st.snapshot(pm)
    apply_metadata(pm["metadata"], metadata_param(p))
    if "billing_details" in p:
        merged = dict(pm["billing_details"])
        merged.update({k: v for k, v in (dict_param(p, "billing_details") or {}).items()})
        pm["billing_details"] = _billing_details(merged)
    card = dict_param(p, "card")
    if card:
        month = int_param(card, "exp_month", param="card[exp_month]") or pm["card"]["exp_month"]
        year = int_param(card, "exp_year", param="card[exp_year]") or pm["card"]["exp_year"]
        validate_expiry(st, month, year)
        pm["card"]["exp_month"], pm["card"]["exp_year"] = month, year
    if "allow_redisplay" in p:
        pm["allow_redisplay"] = choice_param(
            p, "allow_redisplay", ("always", "limited", "unspecified")
        )
    st.emit_update("payment_method.updated", pm, before)
    return pm


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
    recurring: Obj | None = None
    rec_raw = dict_param(p, "recurring")
    if rec_raw is not None:
        for k in rec_raw:
            if k not in RECURRING_KEYS:
                raise unknown_param(f"{name('recurring')}[{k}]")
        interval = choice_param(
            rec_raw, "interval", INTERVALS, param=f"{name('recurring')}[interval]"
        )
        if interval is None:
            raise missing_param(f"{name('recurring')}[interval]")
        count = (
            int_param(rec_raw, "interval_count", param="recurring[interval_count]", minimum=1) or 1
        )
        max_count = {"day": 1095, "week": 156, "month": 36, "year": 3}[interval]
        if count > max_count:
            raise invalid(
                "The maximum billing frequency is three years.", "recurring[interval_count]"
            )
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
        recurring = {
            "interval": interval,
            "interval_count": count,
            "meter": meter_id,
            "trial_period_days": int_param(rec_raw, "trial_period_days"),
            "usage_type": usage,
        }
    lookup_key = str_param(p, "lookup_key")
    if lookup_key is not None:
        _take_lookup_key(st, lookup_key, bool(bool_param(p, "transfer_lookup_key")), "lookup_key")
    if product_data is not None:
        pdata = dict(product_data)
        if not pdata.get("name"):
            raise missing_param("product_data[name]")
        product_id = create_product(st, pdata)["id"]
    active = bool_param(p, "active")
    price: Obj = {
        "id": new_id("price"),
        "object": "price",
        "active": True if active is None else active,
        "billing_scheme": "per_unit",
        "created": st.now(),
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": new_metadata(metadata_param(p)),
        "nickname": str_param(p, "nickname"),
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": choice_param(p, "tax_behavior", ("exclusive", "inclusive", "unspecified"))
        or "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_dec,
    }
    st.add(price)
    _sync_plan(st, price)
    st.emit("price.created", price)
    return price


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
    from ._timeutil import fmt_interval, fmt_money

    amount = fmt_money(default_amount(price), price["currency"])
    rec = price["recurring"]
    if rec is None:
        return amount
    per = fmt_interval(rec["interval"], rec["interval_count"])
    if rec["usage_type"] == "metered":
        return f"{amount} per unit / {per}"
    return f"{amount} / {per}"
