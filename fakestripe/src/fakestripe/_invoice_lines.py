from __future__ import annotations

# What invoices are made of: pending invoice lines (full period, trial, usage, prorations),
# invoice line objects, and whether and how a payment method pays.
from ._cards import AUTH_REQUIRED, Decline
from ._catalog import default_amount, price_label, product_name
from ._engine import State
from ._meters import aggregate
from ._payment_methods import card_of
from ._store import Obj, new_id
from ._timeutil import fmt_date

NO_PM = Decline(
    "resource_missing",
    "This customer has no attached payment source or default payment method. Please consider "
    "adding a default payment method.",
)


def items_of(sub: Obj) -> list[Obj]:
    items: list[Obj] = sub["items"]["data"]
    return items


def is_metered(price: Obj) -> bool:
    rec = price.get("recurring")
    return bool(rec and rec["usage_type"] == "metered")


def item_amount(price: Obj, quantity: int | None) -> int:
    if is_metered(price):
        return 0
    return round(default_amount(price) * (quantity or 0))


def default_pm(st: State, sub: Obj | None, cus: Obj) -> Obj | None:
    pm_id = (sub or {}).get("default_payment_method") or cus["invoice_settings"][
        "default_payment_method"
    ]
    if not pm_id:
        return None
    pm = st.colls["payment_method"].get(pm_id)
    if pm is None or pm.get("customer") != cus["id"]:
        return None
    return pm


def charge_outcome(st: State, pm: Obj | None, on_session: bool = False) -> tuple[str, Decline]:
    """Deterministic result of charging ``pm``: ``paid``, ``failed`` or ``action``."""
    if pm is None:
        return "failed", NO_PM
    card = card_of(st, pm)
    err = card.attach_error or card.charge_error
    if err is not None:
        return "failed", err
    if card.auth == "always" and not on_session:
        return "action", AUTH_REQUIRED
    setup_done = bool(st.meta_of(pm["id"]).get("authenticated"))
    if card.auth == "unless_setup" and not on_session and not setup_done:
        return "action", AUTH_REQUIRED
    return "paid", AUTH_REQUIRED


def price_interval(price: Obj) -> tuple[str, int]:
    rec = price["recurring"]
    return rec["interval"], rec["interval_count"]


def quantity_prefix(q: int | None) -> str:
    return f"{q} × " if q is not None and q != 1 else ""


def pending_line(
    price: Obj,
    amount: int,
    description: str,
    quantity: int | None,
    start: int,
    end: int,
    si: str,
    proration: bool = False,
    credited: Obj | None = None,
) -> Obj:
    return {
        "amount": amount,
        "description": description,
        "price": price,
        "quantity": quantity,
        "start": start,
        "end": end,
        "si": si,
        "proration": proration,
        "invoice_item": new_id("ii") if proration else None,
        "credited": credited,
        # The subscription's discounts apply to every line, prorations included.
        "discountable": True,
    }


def full_line(st: State, item: Obj, start: int, end: int) -> Obj:
    price, q = item["price"], item["quantity"]
    desc = f"{q} × {product_name(st, price)} (at {price_label(st, price)})"
    return pending_line(price, item_amount(price, q), desc, q, start, end, item["id"])


def trial_line(st: State, item: Obj, start: int, end: int) -> Obj:
    price, q = item["price"], item["quantity"]
    desc = f"Trial period for {product_name(st, price)}"
    return pending_line(price, 0, desc, q, start, end, item["id"])


def usage_total(st: State, meter: Obj, customer: str, start: int, end: int) -> float:
    return aggregate(st, meter, customer, start, end)


def usage_line(st: State, sub: Obj, item: Obj, start: int, end: int) -> Obj:
    price = item["price"]
    meter = st.objects.get(price["recurring"]["meter"])
    usage = usage_total(st, meter, sub["customer"], start, end) if meter else 0.0
    qty = int(usage) if usage == int(usage) else usage
    amount = round(default_amount(price) * usage)
    desc = f"{qty} × {product_name(st, price)} (at {price_label(st, price)})"
    line = pending_line(price, amount, desc, int(usage), start, end, item["id"])
    return line


def proration_pair(
    st: State, sub: Obj, old: Obj | None, new: Obj | None, t: int, start: int, end: int
) -> list[Obj]:
    """Credit for unused time on ``old`` and charge for remaining time on ``new``."""
    if end <= start or t >= end:
        return []
    frac = (end - t) / (end - start)
    when = fmt_date(t)
    out: list[Obj] = []
    last_lines = st.meta_of(sub["id"]).setdefault("last_line", {})
    if old is not None and not is_metered(old["price"]):
        price, q = old["price"], old["quantity"]
        amount = -round(item_amount(price, q) * frac)
        desc = f"Unused time on {quantity_prefix(q)}{product_name(st, price)} after {when}"
        charged = last_lines.get(old["id"])
        credited = {"invoice": charged[0], "invoice_line_items": [charged[1]]} if charged else None
        out.append(pending_line(price, amount, desc, q, t, end, old["id"], True, credited))
    if new is not None and not is_metered(new["price"]):
        price, q = new["price"], new["quantity"]
        amount = round(item_amount(price, q) * frac)
        desc = f"Remaining time on {quantity_prefix(q)}{product_name(st, price)} after {when}"
        out.append(pending_line(price, amount, desc, q, t, end, new["id"], True))
    return out


def invoice_line_object(st: State, inv_id: str, sub: Obj, s: Obj) -> Obj:
    price = s["price"]
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": s["amount"],
        "currency": price["currency"],
        "description": s["description"],
        "discount_amounts": (),
        "discountable": s["discountable"],
        "discounts": (),
        "invoice": inv_id,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": s["invoice_item"],
                "proration": s["proration"],
                "proration_details": {"credited_items": s["credited"]},
                "subscription": sub["id"],
                "subscription_item": s["si"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": s["end"], "start": s["start"]},
        "pretax_credit_amounts": (),
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": s["quantity"],
        "subscription": sub["id"],
        "subtotal": s["amount"],
        "taxes": (),
    }
