from __future__ import annotations

# Subscriptions, subscription items, invoices, payments and the billing clock.
from typing import Any

from ._cards import AUTH_REQUIRED, Decline
from ._catalog import (
    attach_pm,
    card_of,
    default_amount,
    not_attached,
    plan_of,
    price_label,
    product_name,
    resolve_pm,
)
from ._engine import State
from ._errors import StripeError, invalid, missing_param
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
    new_metadata,
    str_param,
    unknown_param,
)
from ._store import Obj, new_id, rand_str
from ._timeutil import DAY, add_interval, day_of, fmt_date

SUB_CREATE = {
    "automatic_tax",
    "billing_mode",
    "cancel_at",
    "cancel_at_period_end",
    "collection_method",
    "currency",
    "customer",
    "days_until_due",
    "default_payment_method",
    "description",
    "invoice_settings",
    "items",
    "metadata",
    "off_session",
    "payment_behavior",
    "payment_settings",
    "proration_behavior",
    "trial_end",
    "trial_period_days",
    "trial_settings",
}
SUB_CREATE_UNSUPPORTED = {
    "add_invoice_items",
    "application_fee_percent",
    "backdate_start_date",
    "billing_cycle_anchor",
    "billing_cycle_anchor_config",
    "billing_schedules",
    "billing_thresholds",
    "customer_account",
    "default_source",
    "default_tax_rates",
    "discounts",
    "on_behalf_of",
    "pending_invoice_item_interval",
    "transfer_data",
    "trial_from_plan",
}
SUB_UPDATE = {
    "automatic_tax",
    "billing_cycle_anchor",
    "cancel_at",
    "cancel_at_period_end",
    "cancellation_details",
    "collection_method",
    "days_until_due",
    "default_payment_method",
    "description",
    "invoice_settings",
    "items",
    "metadata",
    "off_session",
    "payment_behavior",
    "payment_settings",
    "proration_behavior",
    "proration_date",
    "trial_end",
    "trial_settings",
}
SUB_UPDATE_UNSUPPORTED = {
    "add_invoice_items",
    "application_fee_percent",
    "billing_schedules",
    "billing_thresholds",
    "default_source",
    "default_tax_rates",
    "discounts",
    "on_behalf_of",
    "pause_collection",
    "pending_invoice_item_interval",
    "transfer_data",
    "trial_from_plan",
}
ITEM_KEYS = {
    "id",
    "price",
    "plan",
    "quantity",
    "metadata",
    "deleted",
    "clear_usage",
    "tax_rates",
    "discounts",
    "billing_thresholds",
    "price_data",
}
PRORATION = ("create_prorations", "always_invoice", "none")
PAYMENT_BEHAVIOR = (
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)
LIVE = ("active", "trialing", "past_due", "unpaid")
NO_PM = Decline(
    "resource_missing",
    "This customer has no attached payment source or default payment method. Please consider "
    "adding a default payment method.",
)
INCOMPLETE_TTL = 23 * 3600


# ------------------------------------------------------------------------------- helpers


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


def _interval(price: Obj) -> tuple[str, int]:
    rec = price["recurring"]
    return rec["interval"], rec["interval_count"]


def _qty_prefix(q: int | None) -> str:
    return f"{q} × " if q is not None and q != 1 else ""


def spec(
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
    }


def full_line(st: State, item: Obj, start: int, end: int) -> Obj:
    price, q = item["price"], item["quantity"]
    desc = f"{q} × {product_name(st, price)} (at {price_label(st, price)})"
    return spec(price, item_amount(price, q), desc, q, start, end, item["id"])


def trial_line(st: State, item: Obj, start: int, end: int) -> Obj:
    price, q = item["price"], item["quantity"]
    desc = f"Trial period for {product_name(st, price)}"
    return spec(price, 0, desc, q, start, end, item["id"])


def usage_total(st: State, meter: Obj, customer: str, start: int, end: int) -> float:
    from ._meters import aggregate

    return aggregate(st, meter, customer, start, end)


def usage_line(st: State, sub: Obj, item: Obj, start: int, end: int) -> Obj:
    price = item["price"]
    meter = st.objects.get(price["recurring"]["meter"])
    usage = usage_total(st, meter, sub["customer"], start, end) if meter else 0.0
    qty = int(usage) if usage == int(usage) else usage
    amount = round(default_amount(price) * usage)
    desc = f"{qty} × {product_name(st, price)} (at {price_label(st, price)})"
    line = spec(price, amount, desc, int(usage), start, end, item["id"])
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
        desc = f"Unused time on {_qty_prefix(q)}{product_name(st, price)} after {when}"
        charged = last_lines.get(old["id"])
        credited = {"invoice": charged[0], "invoice_line_items": [charged[1]]} if charged else None
        out.append(spec(price, amount, desc, q, t, end, old["id"], True, credited))
    if new is not None and not is_metered(new["price"]):
        price, q = new["price"], new["quantity"]
        amount = round(item_amount(price, q) * frac)
        desc = f"Remaining time on {_qty_prefix(q)}{product_name(st, price)} after {when}"
        out.append(spec(price, amount, desc, q, t, end, new["id"], True))
    return out


# ------------------------------------------------------------------------------- invoices


def _line(st: State, inv_id: str, sub: Obj, s: Obj) -> Obj:
    price = s["price"]
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": s["amount"],
        "currency": price["currency"],
        "description": s["description"],
        "discount_amounts": (),
        "discountable": not s["proration"],
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


def bill(
    st: State,
    sub: Obj,
    specs: list[Obj],
    reason: str,
    period_start: int,
    period_end: int,
    attempt: bool = True,
    inv_id: str | None = None,
) -> tuple[Obj, str]:
    """Create, finalize and (optionally) pay an invoice. Returns (invoice, outcome)."""
    cus = st.objects[sub["customer"]]
    now = st.now()
    inv_id = inv_id or new_id("in")
    lines = [_line(st, inv_id, sub, s) for s in specs]
    total = sum(line["amount"] for line in lines)
    start_balance = cus["balance"]
    net = total + start_balance
    amount_due = max(0, net)
    inv: Obj = {
        "id": inv_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": st.account["business_profile"]["name"],
        "account_tax_ids": None,
        "amount_due": amount_due,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": amount_due,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": reason,
        "collection_method": sub["collection_method"],
        "created": now,
        "currency": sub["currency"],
        "custom_fields": None,
        "customer": cus["id"],
        "customer_account": None,
        "customer_address": cus["address"],
        "customer_email": cus["email"],
        "customer_name": cus["name"],
        "customer_phone": cus["phone"],
        "customer_shipping": None,
        "customer_tax_exempt": cus["tax_exempt"],
        "customer_tax_ids": (),
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": (),
        "description": None,
        "discounts": (),
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{inv_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(sub["metadata"]),
                "subscription": sub["id"],
            },
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": start_balance,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": (),
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": (),
        "total_taxes": (),
        "webhooks_delivered_at": None,
        "_sub": sub["id"],
    }
    if any(s["proration"] for s in specs):
        inv["parent"]["subscription_details"]["subscription_proration_date"] = min(
            s["start"] for s in specs if s["proration"]
        )
    st.add(inv)
    last_lines = st.meta_of(sub["id"]).setdefault("last_line", {})
    for s, line in zip(specs, lines, strict=True):
        if not s["proration"] and s["amount"] > 0:
            last_lines[s["si"]] = (inv_id, line["id"])
    sub["latest_invoice"] = inv_id
    st.emit("invoice.created", inv)
    _finalize(st, inv, cus)
    if amount_due == 0:
        _mark_paid(st, inv)
        return inv, "paid"
    if sub["collection_method"] == "send_invoice":
        inv["due_date"] = now + DAY * (sub["days_until_due"] or 30)
        st.emit("invoice.sent", inv)
        return inv, "open"
    if not attempt:
        return inv, "open"
    return inv, attempt_payment(st, inv)


def _finalize(st: State, inv: Obj, cus: Obj) -> None:
    now = st.now()
    net = inv["total"] + inv["starting_balance"]
    inv["ending_balance"] = min(0, net)
    if cus["balance"] != inv["ending_balance"]:
        cus["balance"] = inv["ending_balance"]
    inv["number"] = f"{cus['invoice_prefix']}-{cus['next_invoice_sequence']:04d}"
    cus["next_invoice_sequence"] += 1
    inv["status"] = "open"
    inv["effective_at"] = now
    inv["status_transitions"]["finalized_at"] = now
    inv["hosted_invoice_url"] = f"{st.base_url}/i/{inv['id']}"
    inv["invoice_pdf"] = f"{st.base_url}/i/{inv['id']}/pdf"
    st.meta_of(inv["id"])["pi"] = f"pi_{rand_str(24)}"
    st.save(inv)
    st.emit("invoice.finalized", inv)


def _mark_paid(st: State, inv: Obj) -> None:
    inv["status"] = "paid"
    inv["amount_paid"] = inv["amount_due"]
    inv["amount_remaining"] = 0
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["paid_at"] = st.now()
    st.save(inv)
    st.emit("invoice.paid", inv)
    st.emit("invoice.payment_succeeded", inv)


def attempt_payment(st: State, inv: Obj, pm: Obj | None = None, on_session: bool = False) -> str:
    """Charge an open invoice. Emits invoice events and syncs the subscription status."""
    sub = st.objects.get(inv["_sub"])
    cus = st.objects[inv["customer"]]
    if pm is None:
        pm = default_pm(st, sub, cus)
    outcome, decline = charge_outcome(st, pm, on_session)
    inv["attempted"] = True
    inv["attempt_count"] += 1
    if outcome == "paid":
        _mark_paid(st, inv)
    else:
        st.meta_of(inv["id"])["last_error"] = decline
        retries: tuple[int, ...] = st.meta_of("__config__").get("retry_days", (3, 5, 7))
        n = inv["attempt_count"]
        if inv["billing_reason"] != "subscription_create" and n <= len(retries):
            when = st.now() + retries[n - 1] * DAY
            inv["next_payment_attempt"] = when
            st.schedule(when, "invoice_retry", inv["id"])
        else:
            inv["next_payment_attempt"] = None
        st.save(inv)
        if outcome == "action":
            st.emit("invoice.payment_action_required", inv)
        else:
            st.emit("invoice.payment_failed", inv)
    if sub is not None:
        _after_payment(st, sub, inv, outcome)
    return outcome


def _after_payment(st: State, sub: Obj, inv: Obj, outcome: str) -> None:
    before = st.snapshot(sub)
    if outcome == "paid":
        if sub["status"] in ("incomplete", "past_due", "unpaid"):
            still_open = [
                oid
                for oid in st.colls["invoice"].candidates("subscription", sub["id"])
                if st.objects[oid]["status"] == "open" and st.objects[oid]["amount_remaining"] > 0
            ]
            if not still_open:
                trial_end = sub["trial_end"]
                in_trial = trial_end is not None and st.now() < trial_end
                sub["status"] = "trialing" if in_trial else "active"
    elif inv["billing_reason"] != "subscription_create" and sub["status"] in (
        "active",
        "trialing",
    ):
        sub["status"] = "past_due"
    st.save(sub)
    st.emit_update("customer.subscription.updated", sub, before)


def pay_invoice_api(st: State, inv: Obj, p: Params) -> Obj:
    check_params(
        p, {"payment_method", "paid_out_of_band", "off_session", "forgive", "mandate"}, {"source"}
    )
    if inv["status"] == "paid":
        raise invalid("Invoice is already paid", None, "invoice_already_paid")
    if inv["status"] != "open":
        raise invalid(
            f"You can only pay an invoice that is open. This invoice is {inv['status']}.",
            None,
            "invoice_not_editable",
        )
    if bool_param(p, "paid_out_of_band"):
        _mark_paid(st, inv)
        sub = st.objects.get(inv["_sub"])
        if sub is not None:
            _after_payment(st, sub, inv, "paid")
        return inv
    pm: Obj | None = None
    pm_id = str_param(p, "payment_method")
    cus = st.objects[inv["customer"]]
    if pm_id is not None:
        pm = resolve_pm(st, pm_id, "payment_method", create=True)
        if pm.get("customer") is None:
            attach_pm(st, pm, cus)
        elif pm["customer"] != cus["id"]:
            raise not_attached(pm_id, "payment_method")
    else:
        pm = default_pm(st, st.objects.get(inv["_sub"]), cus)
        if pm is None:
            raise invalid(NO_PM.message, None, "invoice_no_payment_method_types")
    outcome = attempt_payment(st, inv, pm)
    if outcome == "failed":
        decline: Decline = st.meta_of(inv["id"])["last_error"]
        raise decline.error()
    if outcome == "action":
        raise StripeError(
            402,
            "This payment requires additional user action before it can be completed "
            "successfully. Payment can be completed using the PaymentIntent associated with "
            "the invoice.",
            type="card_error",
            code="invoice_payment_intent_requires_action",
        )
    return inv


def void_invoice(st: State, inv: Obj) -> Obj:
    if inv["status"] not in ("open", "uncollectible"):
        raise invalid(
            f"You can only void an open invoice. This invoice is {inv['status']}.",
            None,
            "invoice_not_editable",
        )
    inv["status"] = "void"
    inv["amount_remaining"] = 0
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["voided_at"] = st.now()
    st.save(inv)
    st.emit("invoice.voided", inv)
    return inv


def mark_uncollectible(st: State, inv: Obj) -> Obj:
    if inv["status"] != "open":
        raise invalid("You can only mark an open invoice as uncollectible.", None)
    inv["status"] = "uncollectible"
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["marked_uncollectible_at"] = st.now()
    st.save(inv)
    st.emit("invoice.marked_uncollectible", inv)
    return inv


def confirmation_secret(st: State, inv: Obj) -> Obj | None:
    if inv.get("status") != "open":
        return None
    pi = st.meta_of(inv["id"]).get("pi") or f"pi_{rand_str(24)}"
    return {"client_secret": f"{pi}_secret_{rand_str(25)}", "type": "payment_intent"}


# -------------------------------------------------------------------------- subscriptions


def _parse_item(st: State, raw: Any, idx: int, base: str = "items") -> tuple[Obj, int | None, Obj]:
    if not isinstance(raw, dict):
        raise invalid("Invalid object", f"{base}[{idx}]")
    for k in raw:
        if k not in ITEM_KEYS:
            raise unknown_param(f"{base}[{idx}][{k}]")
    if raw.get("price_data"):
        raise StripeError(
            400,
            "fakestripe does not implement `price_data`; create a Price first.",
            param=f"{base}[{idx}][price_data]",
            code="parameter_unknown",
        )
    price_id = str_param(raw, "price", param=f"{base}[{idx}][price]") or str_param(raw, "plan")
    if price_id is None:
        raise missing_param(f"{base}[{idx}][price]")
    price = st.get("price", price_id, f"{base}[{idx}][price]")
    _check_price(price, f"{base}[{idx}][price]")
    qty = int_param(raw, "quantity", param=f"{base}[{idx}][quantity]", minimum=0)
    if is_metered(price):
        if qty is not None:
            raise invalid(
                f"Quantity should not be specified where usage_type is `metered`. Remove "
                f"quantity from `{base}[{idx}]`.",
                f"{base}[{idx}][quantity]",
            )
    elif qty is None:
        qty = 1
    return price, qty, new_metadata(metadata_param(raw))


def _check_price(price: Obj, param: str) -> None:
    if not price["active"]:
        raise invalid(
            "The price specified is inactive. This subscription cannot be created.", param
        )
    if price["recurring"] is None:
        raise invalid(
            "The price specified is set to `type=one_time` but this field only accepts prices "
            "with `type=recurring`.",
            param,
        )


def _check_compatible(prices: list[Obj]) -> None:
    if len({(p["currency"], *_interval(p)) for p in prices}) > 1:
        raise invalid(
            "Currency and interval fields must match across all plans on this subscription. "
            "Found mismatch in interval field.",
            "items",
        )


def _new_item(
    st: State, sub_id: str, price: Obj, qty: int | None, md: Obj, start: int, end: int
) -> Obj:
    item: Obj = {
        "id": new_id("si", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": st.now(),
        "current_period_end": end,
        "current_period_start": start,
        "discounts": (),
        "metadata": md,
        "plan": plan_of(st, price),
        "price": price,
        "quantity": qty,
        "subscription": sub_id,
        "tax_rates": (),
    }
    st.add(item)
    return item


def _pm_for_customer(st: State, cus: Obj, pm_id: str, param: str) -> Obj:
    pm = resolve_pm(st, pm_id, param, create=True)
    if pm.get("customer") is None:
        attach_pm(st, pm, cus)
    elif pm["customer"] != cus["id"]:
        raise not_attached(pm_id, param)
    return pm


def _trial_settings(p: Params) -> Obj:
    raw = dict_param(p, "trial_settings") or {}
    found = raw.get("end_behavior")
    end: Obj = found if isinstance(found, dict) else {}
    behavior = choice_param(
        end,
        "missing_payment_method",
        ("cancel", "create_invoice", "pause"),
        "trial_settings[end_behavior][missing_payment_method]",
    )
    return {"end_behavior": {"missing_payment_method": behavior or "create_invoice"}}


def create_subscription(st: State, p: Params, from_checkout: bool = False) -> Obj:
    check_params(p, SUB_CREATE, SUB_CREATE_UNSUPPORTED)
    cus_id = str_param(p, "customer", required=True)
    cus = st.get("customer", cus_id, "customer")
    raw_items = list_param(p, "items")
    if not raw_items:
        raise missing_param("items")
    parsed = [_parse_item(st, raw, n) for n, raw in enumerate(raw_items)]
    prices = [x[0] for x in parsed]
    _check_compatible(prices)
    seen: set[str] = set()
    for price in prices:
        if price["id"] in seen:
            raise invalid(
                f"Cannot add multiple subscription items with the same price: {price['id']}",
                "items",
            )
        seen.add(price["id"])
    now = st.now()
    trial_days = int_param(p, "trial_period_days", minimum=0)
    trial_end_raw = str_param(p, "trial_end")
    trial_end: int | None = None
    if trial_end_raw is not None and trial_end_raw != "now":
        trial_end = int_param(p, "trial_end")
        assert trial_end is not None
        if trial_end <= now:
            raise invalid(
                "Invalid timestamp: must be an integer Unix timestamp in the future.", "trial_end"
            )
    elif trial_days:
        if trial_days > 730:
            raise invalid("Trial period days must be at most 730.", "trial_period_days")
        trial_end = now + trial_days * DAY
    behavior = choice_param(p, "payment_behavior", PAYMENT_BEHAVIOR) or "allow_incomplete"
    if behavior == "pending_if_incomplete":
        raise invalid(
            "You can only pass `payment_behavior=pending_if_incomplete` when updating a "
            "subscription.",
            "payment_behavior",
        )
    collection = (
        choice_param(p, "collection_method", ("charge_automatically", "send_invoice"))
        or "charge_automatically"
    )
    days_until_due = int_param(p, "days_until_due", minimum=0)
    if collection == "send_invoice" and days_until_due is None:
        raise missing_param("days_until_due")
    pm: Obj | None = None
    pm_id = str_param(p, "default_payment_method")
    cancel_at = int_param(p, "cancel_at")
    cancel_at_period_end = bool(bool_param(p, "cancel_at_period_end"))
    interval, count = _interval(prices[0])
    start = now
    end = trial_end if trial_end is not None else add_interval(now, interval, count)
    trial_settings = _trial_settings(p)
    metadata = new_metadata(metadata_param(p))
    sub_id = new_id("sub")
    # Predict the first payment to honour error_if_incomplete before creating anything.
    first_amount = sum(item_amount(pr, q) for pr, q, _ in parsed) if trial_end is None else 0
    first_amount = max(0, first_amount + cus["balance"])
    if pm_id is not None:
        pm = _pm_for_customer(st, cus, pm_id, "default_payment_method")
    effective_pm = pm or default_pm(st, None, cus)
    outcome = "paid"
    if first_amount > 0 and collection == "charge_automatically":
        if behavior == "default_incomplete":
            outcome = "open"
        else:
            outcome, decline = charge_outcome(st, effective_pm)
            if outcome != "paid" and behavior == "error_if_incomplete":
                if outcome == "action":
                    raise StripeError(
                        402,
                        "Payment for this subscription requires additional user action before "
                        "it can be completed successfully.",
                        type="card_error",
                        code="subscription_payment_intent_requires_action",
                    )
                if effective_pm is None:
                    raise invalid(NO_PM.message, None, "resource_missing")
                raise decline.error()
    if trial_end is not None:
        status = "trialing"
    elif from_checkout or outcome != "paid":
        status = "incomplete"
    else:
        status = "active"
    sub: Obj = {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": end if trial_end is not None else now,
        "billing_cycle_anchor_config": None,
        "billing_mode": _billing_mode(p, now),
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": collection,
        "created": now,
        "currency": prices[0]["currency"],
        "customer": cus["id"],
        "customer_account": None,
        "days_until_due": days_until_due,
        "default_payment_method": pm["id"] if pm else None,
        "default_source": None,
        "default_tax_rates": (),
        "description": str_param(p, "description"),
        "discounts": (),
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": metadata,
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": now,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": trial_settings,
        "trial_start": now if trial_end is not None else None,
    }
    for price, qty, md in parsed:
        items_of(sub).append(_new_item(st, sub_id, price, qty, md, start, end))
    if cancel_at_period_end:
        _set_cancel_at_period_end(st, sub, True, None)
    elif cancel_at is not None:
        sub["cancel_at"] = cancel_at
        st.schedule(cancel_at, "cancel_at", sub_id)
    meta = st.meta_of(sub_id)
    meta["anchor_day"] = day_of(end if trial_end is not None else now)
    meta["pending"] = []
    first_invoice = new_id("in")
    sub["latest_invoice"] = first_invoice
    st.add(sub)
    st.emit("customer.subscription.created", sub)
    if trial_end is not None:
        specs = [
            trial_line(st, it, now, trial_end)
            for it in items_of(sub)
            if not is_metered(it["price"])
        ]
        bill(st, sub, specs, "subscription_create", now, now, inv_id=first_invoice)
        if trial_end - 3 * DAY > now:
            st.schedule(trial_end - 3 * DAY, "trial_will_end", sub_id)
    else:
        specs = [full_line(st, it, now, end) for it in items_of(sub) if not is_metered(it["price"])]
        bill(
            st,
            sub,
            specs,
            "subscription_create",
            now,
            now,
            attempt=behavior != "default_incomplete",
            inv_id=first_invoice,
        )
        if sub["status"] == "incomplete":
            st.schedule(now + INCOMPLETE_TTL, "incomplete_expire", sub_id)
    st.schedule(end, "period_end", sub_id)
    return sub


def _billing_mode(p: Params, now: int) -> Obj:
    """Today's API defaults new subscriptions to ``flexible`` billing mode."""
    raw = dict_param(p, "billing_mode") or {}
    mode = choice_param(raw, "type", ("classic", "flexible"), "billing_mode[type]") or "flexible"
    if mode == "classic":
        return {"flexible": None, "type": "classic", "updated_at": None}
    flexible = raw.get("flexible") if isinstance(raw.get("flexible"), dict) else {}
    discounts = choice_param(
        flexible or {},
        "proration_discounts",
        ("included", "itemized"),
        "billing_mode[flexible][proration_discounts]",
    )
    return {
        "flexible": {"proration_discounts": discounts or "included"},
        "type": "flexible",
        "updated_at": now,
    }


def _set_cancel_at_period_end(st: State, sub: Obj, flag: bool, details: Obj | None) -> None:
    if flag:
        end = items_of(sub)[0]["current_period_end"]
        sub["cancel_at_period_end"] = True
        sub["cancel_at"] = end
        sub["canceled_at"] = st.now()
        sub["cancellation_details"] = {
            "comment": (details or {}).get("comment") or None,
            "feedback": (details or {}).get("feedback") or None,
            "reason": "cancellation_requested",
        }
    else:
        sub["cancel_at_period_end"] = False
        sub["cancel_at"] = None
        sub["canceled_at"] = None
        sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": None}


def cancel_subscription(
    st: State,
    sub: Obj,
    reason: str | None = "cancellation_requested",
    invoice_now: bool = False,
    prorate: bool = False,
    details: Obj | None = None,
) -> Obj:
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid(
            "A canceled subscription can only update its cancellation_details and metadata.",
            None,
            "resource_missing",
        )
    now = st.now()
    meta = st.meta_of(sub["id"])
    pending: list[Obj] = meta.setdefault("pending", [])
    if sub["status"] in LIVE and sub["status"] != "trialing":
        if prorate:
            for item in items_of(sub):
                start, end = item["current_period_start"], item["current_period_end"]
                pending.extend(proration_pair(st, sub, item, None, now, start, end))
        if invoice_now:
            specs = list(pending)
            for item in items_of(sub):
                if is_metered(item["price"]):
                    specs.append(usage_line(st, sub, item, item["current_period_start"], now))
            pending.clear()
            if specs:
                start = items_of(sub)[0]["current_period_start"]
                bill(st, sub, specs, "subscription_cycle", start, now)
    sub["status"] = "canceled"
    if sub["canceled_at"] is None:
        sub["canceled_at"] = now
    sub["ended_at"] = now
    details = details or {}
    sub["cancellation_details"] = {
        "comment": details.get("comment") or sub["cancellation_details"]["comment"],
        "feedback": details.get("feedback") or sub["cancellation_details"]["feedback"],
        "reason": sub["cancellation_details"]["reason"] or reason,
    }
    st.save(sub)
    st.emit("customer.subscription.deleted", sub)
    return sub


def cancel_api(st: State, sub: Obj, p: Params) -> Obj:
    check_params(p, {"cancellation_details", "invoice_now", "prorate"})
    details = dict_param(p, "cancellation_details")
    return cancel_subscription(
        st,
        sub,
        invoice_now=bool(bool_param(p, "invoice_now")),
        prorate=bool(bool_param(p, "prorate")),
        details=details,
    )


def update_subscription(st: State, sub: Obj, p: Params) -> Obj:
    check_params(p, SUB_UPDATE, SUB_UPDATE_UNSUPPORTED)
    modify(st, sub, p)
    return sub


def modify(st: State, sub: Obj, p: Params, item_base: str = "items") -> list[Obj]:
    """Apply a subscription update. Returns newly created items."""
    if sub["status"] in ("canceled", "incomplete_expired"):
        allowed = {"metadata", "cancellation_details", "expand"}
        if set(p) - allowed:
            raise invalid(
                "A canceled subscription can only update its cancellation_details and metadata."
            )
    cus = st.objects[sub["customer"]]
    now = st.now()
    proration = choice_param(p, "proration_behavior", PRORATION) or "create_prorations"
    behavior = choice_param(p, "payment_behavior", PAYMENT_BEHAVIOR) or "allow_incomplete"
    if behavior == "pending_if_incomplete":
        raise StripeError(
            400,
            "fakestripe does not implement `payment_behavior=pending_if_incomplete`.",
            param="payment_behavior",
            code="parameter_unknown",
        )
    items = items_of(sub)
    period_start = items[0]["current_period_start"]
    period_end = items[0]["current_period_end"]
    pdate = int_param(p, "proration_date")
    if pdate is None:
        pdate = now
    elif not period_start <= pdate <= period_end:
        raise invalid(
            "The proration_date must be within the current billing period.", "proration_date"
        )
    # ---- parse item operations
    by_id = {it["id"]: it for it in items}
    ops: list[tuple[str, Obj | None, Obj | None, int | None, Obj | None]] = []
    raw_items = list_param(p, item_base) or []
    for n, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise invalid("Invalid object", f"{item_base}[{n}]")
        si_id = str_param(raw, "id", param=f"{item_base}[{n}][id]")
        if si_id is not None:
            item = by_id.get(si_id)
            if item is None:
                raise invalid(f"Invalid subscription_item id: {si_id}", f"{item_base}[{n}][id]")
            if bool_param(raw, "deleted"):
                ops.append(("delete", item, None, None, None))
                continue
            for k in raw:
                if k not in ITEM_KEYS:
                    raise unknown_param(f"{item_base}[{n}][{k}]")
            new_price = item["price"]
            if raw.get("price") or raw.get("plan"):
                pid = str_param(raw, "price", param=f"{item_base}[{n}][price]") or str_param(
                    raw, "plan"
                )
                new_price = st.get("price", pid, f"{item_base}[{n}][price]")
                if new_price["id"] != item["price"]["id"]:
                    _check_price(new_price, f"{item_base}[{n}][price]")
            qty = int_param(raw, "quantity", param=f"{item_base}[{n}][quantity]", minimum=0)
            if is_metered(new_price):
                if qty is not None:
                    raise invalid(
                        "Quantity should not be specified where usage_type is `metered`.",
                        f"{item_base}[{n}][quantity]",
                    )
            elif qty is None:
                qty = item["quantity"] if not is_metered(item["price"]) else 1
            md = metadata_param(raw)
            ops.append(("update", item, new_price, qty, md))
        else:
            price, qty, md = _parse_item(st, raw, n, item_base)
            ops.append(("add", None, price, qty, md))
    # ---- resulting price set
    result_prices: dict[str, Obj] = {it["id"]: it["price"] for it in items}
    added_prices: list[Obj] = []
    for op, target, op_price, _, _ in ops:
        if op == "delete" and target is not None:
            result_prices.pop(target["id"], None)
        elif op == "update" and target is not None and op_price is not None:
            result_prices[target["id"]] = op_price
        elif op == "add" and op_price is not None:
            added_prices.append(op_price)
    final_prices = list(result_prices.values()) + added_prices
    if ops and not final_prices:
        raise invalid(
            "A subscription must have at least one active plan. To cancel a subscription, "
            "please use the cancel API endpoint on /v1/subscriptions.",
            item_base,
        )
    if ops:
        _check_compatible(final_prices)
        ids = [pr["id"] for pr in final_prices]
        if len(ids) != len(set(ids)):
            raise invalid("Cannot add multiple subscription items with the same price.", item_base)
    old_interval = _interval(items[0]["price"])
    new_interval = _interval(final_prices[0]) if ops else old_interval
    anchor = choice_param(p, "billing_cycle_anchor", ("now", "unchanged"))
    trial_end_raw = str_param(p, "trial_end")
    trial_end_new: int | None = None
    if trial_end_raw is not None and trial_end_raw != "now":
        trial_end_new = int_param(p, "trial_end")
        assert trial_end_new is not None
        if trial_end_new <= now:
            raise invalid("Invalid timestamp: must be in the future.", "trial_end")
    in_trial = sub["status"] == "trialing"
    end_trial_now = trial_end_raw == "now" and in_trial
    reset = in_trial is False and (new_interval != old_interval or anchor == "now")
    reset = reset or end_trial_now
    billable = sub["status"] in ("active", "past_due", "unpaid")
    pm: Obj | None = None
    pm_param = str_param(p, "default_payment_method")
    if pm_param is not None:
        pm = _pm_for_customer(st, cus, pm_param, "default_payment_method")
    # ---- predict payment for error_if_incomplete
    will_invoice = (billable and (reset or (proration == "always_invoice" and bool(ops)))) or (
        end_trial_now
    )
    if behavior == "error_if_incomplete" and will_invoice:
        probe = pm or default_pm(st, sub, cus)
        outcome, decline = charge_outcome(st, probe)
        if outcome != "paid":
            raise decline.error() if probe is not None else invalid(NO_PM.message)
    # ---- apply
    before = st.snapshot(sub)
    meta = st.meta_of(sub["id"])
    pending: list[Obj] = meta.setdefault("pending", [])
    new_specs: list[Obj] = []
    created: list[Obj] = []
    for op, target, op_price, op_qty, op_md in ops:
        if op == "delete" and target is not None:
            if billable and not reset and proration != "none":
                new_specs += proration_pair(st, sub, target, None, pdate, period_start, period_end)
            items.remove(target)
            st.remove(target)
        elif op == "update" and target is not None and op_price is not None:
            changed = op_price["id"] != target["price"]["id"] or op_qty != target["quantity"]
            old = {"id": target["id"], "price": target["price"], "quantity": target["quantity"]}
            target["price"] = op_price
            target["plan"] = plan_of(st, op_price)
            target["quantity"] = op_qty
            apply_metadata(target["metadata"], op_md)
            if changed and billable and not reset and proration != "none":
                new_specs += proration_pair(st, sub, old, target, pdate, period_start, period_end)
            st.save(target)
        elif op == "add" and op_price is not None:
            target = _new_item(
                st, sub["id"], op_price, op_qty, new_metadata(op_md), period_start, period_end
            )
            items.append(target)
            created.append(target)
            if billable and not reset and proration != "none":
                new_specs += proration_pair(st, sub, None, target, pdate, period_start, period_end)
    # ---- simple fields
    if "metadata" in p:
        apply_metadata(sub["metadata"], metadata_param(p))
    if "description" in p:
        sub["description"] = str_param(p, "description")
    if pm_param is not None and pm is not None:
        sub["default_payment_method"] = pm["id"]
    elif "default_payment_method" in p:
        sub["default_payment_method"] = None
    if "collection_method" in p:
        sub["collection_method"] = choice_param(
            p, "collection_method", ("charge_automatically", "send_invoice")
        )
    if "days_until_due" in p:
        sub["days_until_due"] = int_param(p, "days_until_due")
    if "trial_settings" in p:
        sub["trial_settings"] = _trial_settings(p)
    details = dict_param(p, "cancellation_details")
    if "cancel_at_period_end" in p:
        _set_cancel_at_period_end(st, sub, bool(bool_param(p, "cancel_at_period_end")), details)
    elif "cancel_at" in p:
        cancel_at = int_param(p, "cancel_at")
        if cancel_at is None:
            _set_cancel_at_period_end(st, sub, False, None)
        else:
            sub["cancel_at"] = cancel_at
            sub["cancel_at_period_end"] = cancel_at == period_end
            sub["canceled_at"] = now
            sub["cancellation_details"]["reason"] = "cancellation_requested"
            st.schedule(cancel_at, "cancel_at", sub["id"])
    elif details is not None:
        for k in ("comment", "feedback"):
            if k in details:
                sub["cancellation_details"][k] = details[k] or None
    if trial_end_new is not None and in_trial:
        sub["trial_end"] = trial_end_new
        for it in items:
            it["current_period_end"] = trial_end_new
        meta["anchor_day"] = day_of(trial_end_new)
        sub["billing_cycle_anchor"] = trial_end_new
        st.schedule(trial_end_new, "period_end", sub["id"])
        if trial_end_new - 3 * DAY > now:
            st.schedule(trial_end_new - 3 * DAY, "trial_will_end", sub["id"])
    # ---- period reset (interval change, billing_cycle_anchor=now, trial_end=now)
    invoice_specs: list[Obj] | None = None
    if reset and (billable or end_trial_now):
        credits: list[Obj] = []
        if not end_trial_now and proration != "none":
            # credit unused time on what was billed before the change
            for it_before in before["items"]["data"]:
                credits += proration_pair(st, sub, it_before, None, pdate, period_start, period_end)
        interval, count = _interval(items[0]["price"])
        new_end = add_interval(now, interval, count)
        for it in items:
            it["current_period_start"] = now
            it["current_period_end"] = new_end
            st.save(it)
        meta["anchor_day"] = day_of(now)
        sub["billing_cycle_anchor"] = now
        if end_trial_now:
            sub["trial_end"] = now
            sub["status"] = "active"
        charges = [full_line(st, it, now, new_end) for it in items if not is_metered(it["price"])]
        invoice_specs = pending + credits + charges
        pending.clear()
        st.schedule(new_end, "period_end", sub["id"])
        if sub["cancel_at_period_end"]:
            sub["cancel_at"] = new_end
    elif new_specs:
        if proration == "always_invoice":
            invoice_specs = pending + new_specs
            pending.clear()
        else:
            pending.extend(new_specs)
    elif proration == "always_invoice" and pending and ops:
        invoice_specs = list(pending)
        pending.clear()
    st.save(sub)
    st.emit_update("customer.subscription.updated", sub, before)
    if invoice_specs is not None:
        bill(st, sub, invoice_specs, "subscription_update", now, now)
    return created


# ------------------------------------------------------------------ subscription items API

ITEM_CREATE = {
    "subscription",
    "price",
    "plan",
    "quantity",
    "metadata",
    "proration_behavior",
    "proration_date",
    "payment_behavior",
    "tax_rates",
}
ITEM_UPDATE = {
    "price",
    "plan",
    "quantity",
    "metadata",
    "proration_behavior",
    "proration_date",
    "payment_behavior",
    "off_session",
    "tax_rates",
}
ITEM_UNSUPPORTED = {"billing_thresholds", "discounts", "price_data"}
_SUB_OPTS = ("proration_behavior", "proration_date", "payment_behavior")


def create_item(st: State, p: Params) -> Obj:
    check_params(p, ITEM_CREATE, ITEM_UNSUPPORTED)
    sub_id = str_param(p, "subscription", required=True)
    sub = st.get("subscription", sub_id, "subscription")
    item = {k: p[k] for k in ("price", "plan", "quantity", "metadata") if k in p}
    if "price" not in item and "plan" not in item:
        raise missing_param("price")
    params: Params = {k: p[k] for k in _SUB_OPTS if k in p}
    params["items"] = [item]
    created = modify(st, sub, params)
    return created[0]


def update_item(st: State, item: Obj, p: Params) -> Obj:
    check_params(p, ITEM_UPDATE, ITEM_UNSUPPORTED)
    sub = st.objects[item["subscription"]]
    change: Obj = {"id": item["id"]}
    change.update({k: p[k] for k in ("price", "plan", "quantity", "metadata") if k in p})
    params: Params = {k: p[k] for k in _SUB_OPTS if k in p}
    params["items"] = [change]
    modify(st, sub, params)
    return item


def delete_item(st: State, item: Obj, p: Params) -> Obj:
    check_params(p, {"proration_behavior", "proration_date", "payment_behavior", "clear_usage"})
    sub = st.objects[item["subscription"]]
    params: Params = {k: p[k] for k in _SUB_OPTS if k in p}
    params["items"] = [{"id": item["id"], "deleted": "true"}]
    modify(st, sub, params)
    return {"id": item["id"], "object": "subscription_item", "deleted": True}


# ------------------------------------------------------------------------ scheduled work


def on_period_end(st: State, sub_id: str, when: int) -> None:
    sub = st.colls["subscription"].get(sub_id)
    if sub is None or sub["status"] not in LIVE:
        return
    items = items_of(sub)
    if not items or items[0]["current_period_end"] != when:
        return
    if sub["cancel_at"] is not None and sub["cancel_at"] <= when:
        cancel_subscription(st, sub)
        return
    cus = st.objects[sub["customer"]]
    was_trial = sub["status"] == "trialing"
    if was_trial and default_pm(st, sub, cus) is None:
        behavior = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
        if behavior == "cancel":
            cancel_subscription(st, sub, reason=None)
            return
        if behavior == "pause":
            before = st.snapshot(sub)
            sub["status"] = "paused"
            st.save(sub)
            st.emit("customer.subscription.paused", sub)
            st.emit_update("customer.subscription.updated", sub, before)
            return
    before = st.snapshot(sub)
    old_start = items[0]["current_period_start"]
    interval, count = _interval(items[0]["price"])
    new_end = add_interval(when, interval, count, st.meta_of(sub_id).get("anchor_day"))
    for it in items:
        it["current_period_start"] = when
        it["current_period_end"] = new_end
    if was_trial:
        sub["status"] = "active"
    st.save(sub)
    st.emit_update("customer.subscription.updated", sub, before)
    pending: list[Obj] = st.meta_of(sub_id).setdefault("pending", [])
    specs = list(pending)
    pending.clear()
    for it in items:
        if is_metered(it["price"]):
            if not was_trial:
                specs.append(usage_line(st, sub, it, old_start, when))
        else:
            specs.append(full_line(st, it, when, new_end))
    bill(st, sub, specs, "subscription_cycle", old_start, when)
    st.schedule(new_end, "period_end", sub_id)


def on_trial_will_end(st: State, sub_id: str, when: int) -> None:
    sub = st.colls["subscription"].get(sub_id)
    if sub is None or sub["status"] != "trialing" or sub["trial_end"] is None:
        return
    if sub["trial_end"] - 3 * DAY == when:
        st.emit("customer.subscription.trial_will_end", sub)


def on_cancel_at(st: State, sub_id: str, when: int) -> None:
    sub = st.colls["subscription"].get(sub_id)
    if sub is None or sub["cancel_at"] != when or sub["status"] not in LIVE:
        return
    if items_of(sub)[0]["current_period_end"] == when:
        return  # handled by on_period_end
    cancel_subscription(st, sub)


def on_incomplete_expire(st: State, sub_id: str, when: int) -> None:
    sub = st.colls["subscription"].get(sub_id)
    if sub is None or sub["status"] != "incomplete":
        return
    before = st.snapshot(sub)
    sub["status"] = "incomplete_expired"
    sub["ended_at"] = when
    st.save(sub)
    inv = st.objects.get(sub["latest_invoice"] or "")
    if inv is not None and inv["status"] == "open":
        void_invoice(st, inv)
    st.emit_update("customer.subscription.updated", sub, before)


def on_invoice_retry(st: State, inv_id: str, when: int) -> None:
    inv = st.colls["invoice"].get(inv_id)
    if inv is None or inv["status"] != "open" or inv["next_payment_attempt"] != when:
        return
    outcome = attempt_payment(st, inv)
    if outcome != "paid" and inv["next_payment_attempt"] is None:
        sub = st.objects.get(inv["_sub"])
        if sub is not None and sub["status"] in ("past_due", "unpaid"):
            cancel_subscription(st, sub, reason="payment_failed")


def register(st: State) -> None:
    st.due_handlers.update(
        {
            "period_end": on_period_end,
            "trial_will_end": on_trial_will_end,
            "cancel_at": on_cancel_at,
            "incomplete_expire": on_incomplete_expire,
            "invoice_retry": on_invoice_retry,
        }
    )
    st.includables[("invoice", "confirmation_secret")] = lambda s, o: confirmation_secret(
        s, s.objects.get(o["id"], o)
    )
    st.includables[("customer", "subscriptions")] = _customer_subscriptions
    st.includables[("customer", "sources")] = lambda s, o: _empty_list(
        f"/v1/customers/{o['id']}/sources"
    )
    st.includables[("customer", "tax_ids")] = lambda s, o: _empty_list(
        f"/v1/customers/{o['id']}/tax_ids"
    )
    st.includables[("price", "currency_options")] = lambda s, o: {
        o["currency"]: {
            "custom_unit_amount": None,
            "tax_behavior": o["tax_behavior"],
            "unit_amount": o["unit_amount"],
            "unit_amount_decimal": o["unit_amount_decimal"],
        }
    }
    st.includables[("price", "tiers")] = lambda s, o: None


def _empty_list(url: str) -> Obj:
    return {"object": "list", "data": [], "has_more": False, "url": url}


def _customer_subscriptions(st: State, cus: Obj) -> Obj:
    ids = st.colls["subscription"].candidates("customer", cus["id"])
    subs = [st.objects[i] for i in reversed(ids)]
    data = [st.lookup(s["id"]) for s in subs if s["status"] != "canceled"]
    return {
        "object": "list",
        "data": data[:10],
        "has_more": len(data) > 10,
        "url": f"/v1/customers/{cus['id']}/subscriptions",
    }
