from __future__ import annotations

# Customers: create and update (deletion cancels subscriptions: _subscription_cancel).
import re
import string

from ._cards import shortcut_card
from ._engine import State
from ._errors import invalid
from ._params import (
    Params,
    apply_metadata,
    check_params,
    choice_param,
    dict_param,
    int_param,
    list_param,
    metadata_param,
    new_metadata,
    str_param,
)
from ._payment_methods import (
    ADDRESS_KEYS,
    already_attached,
    attach_pm,
    check_attachable,
    not_attached,
    resolve_pm,
)
from ._store import Obj, new_id, rand_str

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _address(p: Params, key: str) -> Obj | None:
    raw = dict_param(p, key)
    if raw is None:
        return None
    for k in raw:
        if k not in ADDRESS_KEYS:
            raise invalid(f"Received unknown parameter: {key}[{k}]", f"{key}[{k}]")
    return {k: (raw.get(k) or None) for k in ADDRESS_KEYS}


def _email(p: Params, key: str = "email") -> str | None:
    email = str_param(p, key)
    if email is not None and not _EMAIL.match(email):
        raise invalid(f"Invalid email address: {email}", key, "email_invalid")
    return email


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
