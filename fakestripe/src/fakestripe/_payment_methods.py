from __future__ import annotations

# Payment methods: test cards as card payment methods, attach and detach.
from datetime import UTC, datetime

from ._cards import TestCard, lookup_number, shortcut_card
from ._engine import State
from ._errors import StripeError, invalid, missing_param
from ._params import (
    Params,
    apply_metadata,
    check_params,
    choice_param,
    dict_param,
    int_param,
    metadata_param,
    str_param,
)
from ._store import Obj, new_id

ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")

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
        "address": {k: (addr.get(k) or None) for k in ADDRESS_KEYS},
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
