from __future__ import annotations

# Customer Portal sessions (API side) and the portal's actions on subscriptions and cards.
from typing import Any

from ._cards import TestCard
from ._engine import State
from ._errors import invalid, missing_param
from ._invoice_lines import is_metered
from ._invoices import attempt_payment
from ._params import (
    Params,
    check_params,
    choice_param,
    dict_param,
    list_param,
    str_param,
)
from ._payment_methods import attach_pm, make_card_pm
from ._portal_config import default_configuration, plan_choices, quantity_limits
from ._store import Obj, new_id
from ._subscription_cancel import cancel_subscription
from ._subscription_update import modify

PORTAL_CREATE = {"configuration", "customer", "flow_data", "locale", "on_behalf_of", "return_url"}


def create_portal_session(st: State, p: Params) -> Obj:
    check_params(p, PORTAL_CREATE, {"customer_account"})
    cus_id = str_param(p, "customer", required=True)
    cus = st.get("customer", cus_id, "customer")
    return_url = str_param(p, "return_url")
    if return_url is not None and not return_url.startswith(("http://", "https://")):
        raise invalid("Not a valid URL", "return_url", "url_invalid")
    flow = _flow(st, cus, dict_param(p, "flow_data"), return_url)
    bps_id = new_id("bps")
    session: Obj = {
        "id": bps_id,
        "object": "billing_portal.session",
        "configuration": _configuration(st, str_param(p, "configuration"))["id"],
        "created": st.now(),
        "customer": cus["id"],
        "customer_account": None,
        "flow": flow,
        "livemode": False,
        "locale": str_param(p, "locale"),
        "on_behalf_of": str_param(p, "on_behalf_of"),
        "return_url": return_url,
        "url": f"{st.base_url}/p/session/{bps_id}",
    }
    return st.add(session)


def _configuration(st: State, config_id: str | None) -> Obj:
    if config_id is None:
        return default_configuration(st)
    config = st.get("billing_portal.configuration", config_id, "configuration")
    if not config["active"]:
        raise invalid(
            f"The configuration `{config_id}` is inactive; activate it or use another one.",
            "configuration",
        )
    return config


def session_configuration(st: State, session: Obj) -> Obj:
    config: Obj = st.objects[session["configuration"]]
    return config


def _flow(st: State, cus: Obj, raw: Obj | None, return_url: str | None) -> Obj | None:
    if raw is None:
        return None
    ftype = choice_param(
        raw,
        "type",
        (
            "payment_method_update",
            "subscription_cancel",
            "subscription_update",
            "subscription_update_confirm",
        ),
        "flow_data[type]",
    )
    if ftype is None:
        raise missing_param("flow_data[type]")
    flow: Obj = {
        "after_completion": {
            "hosted_confirmation": None,
            "redirect": None,
            "type": "portal_homepage",
        },
        "subscription_cancel": None,
        "subscription_update": None,
        "subscription_update_confirm": None,
        "type": ftype,
    }
    after = raw.get("after_completion")
    if isinstance(after, dict) and after.get("type"):
        flow["after_completion"]["type"] = after["type"]
        redirect = after.get("redirect")
        if after["type"] == "redirect" and isinstance(redirect, dict):
            flow["after_completion"]["redirect"] = {"return_url": redirect.get("return_url")}
    if ftype in ("subscription_cancel", "subscription_update", "subscription_update_confirm"):
        body = raw.get(ftype)
        sub_id = body.get("subscription") if isinstance(body, dict) else None
        if not sub_id:
            raise missing_param(f"flow_data[{ftype}][subscription]")
        sub = st.get("subscription", sub_id, f"flow_data[{ftype}][subscription]")
        if sub["customer"] != cus["id"]:
            raise invalid(
                "The subscription does not belong to this customer.",
                f"flow_data[{ftype}][subscription]",
            )
        entry: Obj = {"subscription": sub_id}
        if ftype == "subscription_cancel":
            entry["retention"] = None
        if ftype == "subscription_update_confirm":
            assert isinstance(body, dict)
            entry["discounts"] = None
            entry["items"] = [
                {
                    "id": it.get("id"),
                    "price": it.get("price"),
                    "quantity": int(it["quantity"]) if it.get("quantity") else None,
                }
                for it in (list_param(body, "items") or [])
                if isinstance(it, dict)
            ]
        flow[ftype] = entry
    return flow


def _portal_sub(st: State, session: Obj, sub_id: str) -> Obj:
    sub = st.get("subscription", sub_id, "subscription")
    if sub["customer"] != session["customer"]:
        raise invalid("This subscription does not belong to this customer.")
    return sub


def portal_cancel(st: State, session: Obj, sub_id: str) -> None:
    sub = _portal_sub(st, session, sub_id)
    cancel = session_configuration(st, session)["features"]["subscription_cancel"]
    if not cancel["enabled"]:
        raise invalid("This portal does not allow cancelling subscriptions.")
    if cancel["mode"] == "immediately":
        cancel_subscription(st, sub)
    elif sub["billing_mode"]["type"] == "flexible":
        # In flexible billing mode the portal cancels at period end by setting `cancel_at`;
        # `cancel_at_period_end` stays false.
        end = sub["items"]["data"][0]["current_period_end"]
        modify(st, sub, {"cancel_at": str(end)})
    else:
        modify(st, sub, {"cancel_at_period_end": "true"})


def portal_renew(st: State, session: Obj, sub_id: str) -> None:
    sub = _portal_sub(st, session, sub_id)
    modify(st, sub, {"cancel_at": ""} if sub["cancel_at"] else {"cancel_at_period_end": "false"})


def portal_change_plan(
    st: State, session: Obj, sub_id: str, price_id: str, quantity: int | None
) -> None:
    """The portal's plan change: only to a price the configuration offers, and a new quantity
    only where it offers the quantity box (an unchanged quantity is ignored)."""
    sub = _portal_sub(st, session, sub_id)
    config = session_configuration(st, session)
    item = sub["items"]["data"][0]
    price = st.get("price", price_id or item["price"]["id"], "price")
    if price["id"] not in [p["id"] for p in plan_choices(st, config, item["price"])]:
        raise invalid(f"This portal does not offer the price {price['id']}.", "price")
    change: dict[str, Any] = {"id": item["id"], "price": price["id"]}
    if quantity is not None and quantity != item["quantity"] and not is_metered(price):
        _check_quantity(config, price, quantity)
        change["quantity"] = str(quantity)
    proration = config["features"]["subscription_update"]["proration_behavior"]
    modify(st, sub, {"items": [change], "proration_behavior": proration})


def _check_quantity(config: Obj, price: Obj, quantity: int) -> None:
    limits = quantity_limits(config, price)
    if limits is None:
        raise invalid("This portal does not allow changing the quantity of this plan.", "quantity")
    minimum, maximum = limits
    if quantity < minimum or (maximum is not None and quantity > maximum):
        most = f" and at most {maximum}" if maximum is not None else ""
        raise invalid(f"The quantity must be at least {minimum}{most}.", "quantity")


def portal_update_card(
    st: State,
    session: Obj,
    card: TestCard,
    exp: tuple[int, int] | None,
    name: str | None,
) -> Obj:
    """Attach a new card, make it the default everywhere and retry open invoices."""
    cus = st.objects[session["customer"]]
    exp_m, exp_y = exp if exp else (None, None)
    pm = make_card_pm(st, card, exp_m, exp_y, {"name": name, "email": cus["email"]}, True)
    if card.auth != "none":
        st.meta_of(pm["id"])["authenticated"] = True
    attach_pm(st, pm, cus)
    before = st.snapshot(cus)
    cus["invoice_settings"]["default_payment_method"] = pm["id"]
    st.save(cus)
    st.emit_update("customer.updated", cus, before)
    for oid in list(st.colls["subscription"].candidates("customer", cus["id"])):
        sub = st.objects[oid]
        if sub["status"] in ("canceled", "incomplete_expired"):
            continue
        if sub["default_payment_method"] not in (None, pm["id"]):
            modify(st, sub, {"default_payment_method": pm["id"]})
        # Outstanding invoices are retried with the new card, like Stripe's hosted flows.
        for inv_id in list(st.colls["invoice"].candidates("subscription", sub["id"])):
            inv = st.objects[inv_id]
            if inv["status"] == "open" and inv["collection_method"] == "charge_automatically":
                attempt_payment(st, inv, pm)
    return pm


def pay_invoice_on_page(
    st: State,
    inv: Obj,
    card: TestCard,
    exp: tuple[int, int] | None,
    name: str | None,
    authenticated: bool,
) -> str:
    cus = st.objects[inv["customer"]]
    exp_m, exp_y = exp if exp else (None, None)
    pm = make_card_pm(st, card, exp_m, exp_y, {"name": name, "email": cus["email"]}, True)
    if authenticated:
        st.meta_of(pm["id"])["authenticated"] = True
    if card.attach_error is not None:
        raise card.attach_error.error()
    attach_pm(st, pm, cus)
    return attempt_payment(st, inv, pm, on_session=authenticated)
