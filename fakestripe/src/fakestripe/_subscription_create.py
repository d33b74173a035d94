from __future__ import annotations

# Creating subscriptions: items, trials, the first payment, subscription_object().
from typing import Any

from ._catalog import plan_of
from ._discounts import Grant, parse_discounts, redeem, share_out
from ._engine import State
from ._errors import StripeError, invalid, missing_param
from ._invoice_lines import (
    NO_PM,
    charge_outcome,
    default_pm,
    full_line,
    is_metered,
    item_amount,
    items_of,
    price_interval,
    trial_line,
)
from ._invoices import bill
from ._params import (
    Params,
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
from ._payment_methods import attach_pm, not_attached, resolve_pm
from ._store import Obj, new_id, stripe_object
from ._subscription_cancel import set_cancel_at_period_end
from ._timeutil import DAY, add_interval, day_of

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
    "discounts",
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
    "on_behalf_of",
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


PAYMENT_BEHAVIOR = (
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)


INCOMPLETE_TTL = 23 * 3600


def parse_item(st: State, raw: Any, idx: int, base: str = "items") -> tuple[Obj, int | None, Obj]:
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
    check_price(price, f"{base}[{idx}][price]")
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


def check_price(price: Obj, param: str) -> None:
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


def check_compatible(prices: list[Obj]) -> None:
    if len({(p["currency"], *price_interval(p)) for p in prices}) > 1:
        raise invalid(
            "Currency and interval fields must match across all plans on this subscription. "
            "Found mismatch in interval field.",
            "items",
        )


def add_subscription_item(
    st: State,
    sub_id: str,
    price: Obj,
    qty: int | None,
    md: Obj,
    start: int,
    end: int,
    item_id: str | None = None,
) -> Obj:
    item: Obj = {
        "id": item_id or new_id("si", 14),
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


def payment_method_for(st: State, cus: Obj, pm_id: str, param: str) -> Obj:
    pm = resolve_pm(st, pm_id, param, create=True)
    if pm.get("customer") is None:
        attach_pm(st, pm, cus)
    elif pm["customer"] != cus["id"]:
        raise not_attached(pm_id, param)
    return pm


def trial_settings_param(p: Params) -> Obj:
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
    parsed = _parse_items(st, p)
    grants = parse_discounts(st, p, cus["id"])
    now = st.now()
    trial_end = _trial_end_param(p, now)
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
    interval, count = price_interval(parsed[0][0])
    end = trial_end if trial_end is not None else add_interval(now, interval, count)
    trial_settings = trial_settings_param(p)
    metadata = new_metadata(metadata_param(p))
    sub_id = new_id("sub")
    if pm_id is not None:
        pm = payment_method_for(st, cus, pm_id, "default_payment_method")
    # Predict the first payment to honour error_if_incomplete before creating anything.
    outcome = _first_payment_outcome(st, cus, parsed, trial_end, collection, behavior, pm, grants)
    if trial_end is not None:
        status = "trialing"
    elif from_checkout or outcome != "paid":
        status = "incomplete"
    else:
        status = "active"
    sub = subscription_object(st, sub_id, cus, p, parsed[0][0]["currency"], trial_end, end)
    sub.update(
        status=status,
        collection_method=collection,
        days_until_due=days_until_due,
        default_payment_method=pm["id"] if pm else None,
        metadata=metadata,
        trial_settings=trial_settings,
    )
    for price, qty, md in parsed:
        items_of(sub).append(add_subscription_item(st, sub_id, price, qty, md, now, end))
    if cancel_at_period_end:
        set_cancel_at_period_end(st, sub, True, None)
    elif cancel_at is not None:
        sub["cancel_at"] = cancel_at
        st.schedule(cancel_at, "cancel_at", sub_id)
    meta = st.meta_of(sub_id)
    meta["anchor_day"] = day_of(end if trial_end is not None else now)
    meta["pending"] = []
    first_invoice = new_id("in")
    sub["latest_invoice"] = first_invoice
    sub["discounts"] = redeem(st, grants, cus["id"], sub_id, now)
    st.add(sub)
    st.emit("customer.subscription.created", sub)
    _bill_first_invoice(st, sub, first_invoice, behavior, end)
    st.schedule(end, "period_end", sub_id)
    return sub


def _parse_items(st: State, p: Params) -> list[tuple[Obj, int | None, Obj]]:
    """The ``items`` of a new subscription: (price, quantity, metadata) each, checked."""
    raw_items = list_param(p, "items")
    if not raw_items:
        raise missing_param("items")
    parsed = [parse_item(st, raw, n) for n, raw in enumerate(raw_items)]
    prices = [x[0] for x in parsed]
    check_compatible(prices)
    seen: set[str] = set()
    for price in prices:
        if price["id"] in seen:
            raise invalid(
                f"Cannot add multiple subscription items with the same price: {price['id']}",
                "items",
            )
        seen.add(price["id"])
    return parsed


def _trial_end_param(p: Params, now: int) -> int | None:
    """The trial end asked for by ``trial_end`` or ``trial_period_days`` (None: no trial)."""
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
    return trial_end


def _first_payment_outcome(
    st: State,
    cus: Obj,
    parsed: list[tuple[Obj, int | None, Obj]],
    trial_end: int | None,
    collection: str,
    behavior: str,
    pm: Obj | None,
    grants: list[Grant],
) -> str:
    """What charging the first invoice will do: ``paid``, ``open``, ``failed`` or ``action``.

    Raises the card's error when ``payment_behavior=error_if_incomplete`` and it would not pay.
    """
    lines = [
        {"amount": item_amount(pr, q) if trial_end is None else 0, "discountable": True}
        for pr, q, _ in parsed
    ]
    given = [(None, coupon) for coupon, _ in grants]
    off = sum(d["amount"] for d in share_out(lines, given, parsed[0][0]["currency"]))
    first_amount = max(0, sum(line["amount"] for line in lines) - off + cus["balance"])
    effective_pm = pm or default_pm(st, None, cus)
    if first_amount <= 0 or collection != "charge_automatically":
        return "paid"
    if behavior == "default_incomplete":
        return "open"
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
    return outcome


#: Subscription fields the fake never sets (no Connect, tax, schedules or pauses).
SUBSCRIPTION_NULLS = (
    "application application_fee_percent billing_cycle_anchor_config billing_thresholds "
    "cancel_at canceled_at customer_account default_source ended_at latest_invoice "
    "next_pending_invoice_item_invoice on_behalf_of pause_collection "
    "pending_invoice_item_interval pending_setup_intent pending_update schedule test_clock "
    "transfer_data"
)


def subscription_object(
    st: State,
    sub_id: str,
    cus: Obj,
    p: Params,
    currency: str,
    trial_end: int | None,
    period_end: int,
) -> Obj:
    """A new subscription with no items yet; the caller sets its status and settings."""
    now = st.now()
    fields: Obj = {
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": period_end if trial_end is not None else now,
        "billing_mode": billing_mode_param(p, now),
        "cancel_at_period_end": False,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": cus["id"],
        "days_until_due": None,
        "default_payment_method": None,
        "default_tax_rates": (),
        "description": str_param(p, "description"),
        "discounts": (),
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "livemode": False,
        "metadata": {},
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "start_date": now,
        "status": "incomplete",
        "trial_end": trial_end,
        "trial_settings": None,
        "trial_start": now if trial_end is not None else None,
    }
    return stripe_object(sub_id, "subscription", fields, SUBSCRIPTION_NULLS)


def _bill_first_invoice(st: State, sub: Obj, inv_id: str, behavior: str, end: int) -> None:
    """The subscription's first invoice: a zero trial invoice, or the first period's charge."""
    now, trial_end = st.now(), sub["trial_end"]
    licensed = [it for it in items_of(sub) if not is_metered(it["price"])]
    if trial_end is not None:
        specs = [trial_line(st, it, now, trial_end) for it in licensed]
        bill(st, sub, specs, "subscription_create", now, now, inv_id=inv_id)
        if trial_end - 3 * DAY > now:
            st.schedule(trial_end - 3 * DAY, "trial_will_end", sub["id"])
        return
    specs = [full_line(st, it, now, end) for it in licensed]
    attempt = behavior != "default_incomplete"
    bill(st, sub, specs, "subscription_create", now, now, attempt=attempt, inv_id=inv_id)
    if sub["status"] == "incomplete":
        st.schedule(now + INCOMPLETE_TTL, "incomplete_expire", sub["id"])


def billing_mode_param(p: Params, now: int) -> Obj:
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
