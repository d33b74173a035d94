from __future__ import annotations

# Updating subscriptions and their items: plan changes, prorations, new periods.
from dataclasses import dataclass

from ._catalog import plan_of
from ._engine import State
from ._errors import StripeError, invalid, missing_param
from ._invoice_lines import (
    NO_PM,
    charge_outcome,
    default_pm,
    full_line,
    is_metered,
    items_of,
    price_interval,
    proration_pair,
)
from ._invoices import bill
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
from ._store import Obj
from ._subscription_cancel import set_cancel_at_period_end
from ._subscription_create import (
    ITEM_KEYS,
    PAYMENT_BEHAVIOR,
    add_subscription_item,
    check_compatible,
    check_price,
    parse_item,
    payment_method_for,
    trial_settings_param,
)
from ._timeutil import DAY, add_interval, day_of

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


PRORATION = ("create_prorations", "always_invoice", "none")


def update_subscription(st: State, sub: Obj, p: Params) -> Obj:
    check_params(p, SUB_UPDATE, SUB_UPDATE_UNSUPPORTED)
    modify(st, sub, p)
    return sub


#: One item operation of an update: (kind, item, price, quantity, metadata), kind being
#: ``add``, ``update`` or ``delete``.
ItemOperation = tuple[str, Obj | None, Obj | None, int | None, Obj | None]


@dataclass
class Update:
    """What a subscription update will do, decided before anything changes."""

    now: int
    proration: str
    proration_date: int
    period_start: int
    period_end: int
    operations: list[ItemOperation]
    trial_end: int | None  # a new trial end (only while trialing)
    in_trial: bool
    end_trial_now: bool
    reset: bool  # a new billing period starts now
    billable: bool

    def prorates(self) -> bool:
        return self.billable and not self.reset and self.proration != "none"

    def prorations(self, st: State, sub: Obj, old: Obj | None, new: Obj | None) -> list[Obj]:
        period = (self.proration_date, self.period_start, self.period_end)
        return proration_pair(st, sub, old, new, *period)


def modify(st: State, sub: Obj, p: Params, item_base: str = "items") -> list[Obj]:
    """Apply a subscription update. Returns newly created items."""
    if sub["status"] in ("canceled", "incomplete_expired"):
        allowed = {"metadata", "cancellation_details", "expand"}
        if set(p) - allowed:
            raise invalid(
                "A canceled subscription can only update its cancellation_details and metadata."
            )
    cus = st.objects[sub["customer"]]
    proration = choice_param(p, "proration_behavior", PRORATION) or "create_prorations"
    behavior = choice_param(p, "payment_behavior", PAYMENT_BEHAVIOR) or "allow_incomplete"
    if behavior == "pending_if_incomplete":
        raise StripeError(
            400,
            "fakestripe does not implement `payment_behavior=pending_if_incomplete`.",
            param="payment_behavior",
            code="parameter_unknown",
        )
    update = _plan_update(st, sub, p, item_base, proration)
    pm: Obj | None = None
    pm_param = str_param(p, "default_payment_method")
    if pm_param is not None:
        pm = payment_method_for(st, cus, pm_param, "default_payment_method")
    # Predict the payment for error_if_incomplete.
    will_invoice = update.billable and (
        update.reset or (update.proration == "always_invoice" and bool(update.operations))
    )
    if behavior == "error_if_incomplete" and (will_invoice or update.end_trial_now):
        probe = pm or default_pm(st, sub, cus)
        outcome, decline = charge_outcome(st, probe)
        if outcome != "paid":
            raise decline.error() if probe is not None else invalid(NO_PM.message)
    before = st.snapshot(sub)
    new_specs, created = _apply_item_operations(st, sub, update)
    _apply_fields(st, sub, p, update, pm)
    invoice_specs = _invoice_specs(st, sub, update, before, new_specs)
    st.save(sub)
    st.emit_update("customer.subscription.updated", sub, before)
    if invoice_specs is not None:
        bill(st, sub, invoice_specs, "subscription_update", update.now, update.now)
    return created


def _plan_update(st: State, sub: Obj, p: Params, item_base: str, proration: str) -> Update:
    now = st.now()
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
    ops = _item_operations(st, p, items, item_base)
    final_prices = _resulting_prices(items, ops, item_base)
    old_interval = price_interval(items[0]["price"])
    new_interval = price_interval(final_prices[0]) if ops else old_interval
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
    return Update(
        now=now,
        proration=proration,
        proration_date=pdate,
        period_start=period_start,
        period_end=period_end,
        operations=ops,
        trial_end=trial_end_new,
        in_trial=in_trial,
        end_trial_now=end_trial_now,
        reset=reset or end_trial_now,
        billable=sub["status"] in ("active", "past_due", "unpaid"),
    )


def _item_operations(st: State, p: Params, items: list[Obj], item_base: str) -> list[ItemOperation]:
    """Parse ``items[n]``: an ``id`` updates or deletes that item, no ``id`` adds one."""
    by_id = {it["id"]: it for it in items}
    ops: list[ItemOperation] = []
    for n, raw in enumerate(list_param(p, item_base) or []):
        if not isinstance(raw, dict):
            raise invalid("Invalid object", f"{item_base}[{n}]")
        si_id = str_param(raw, "id", param=f"{item_base}[{n}][id]")
        if si_id is None:
            price, qty, md = parse_item(st, raw, n, item_base)
            ops.append(("add", None, price, qty, md))
            continue
        item = by_id.get(si_id)
        if item is None:
            raise invalid(f"Invalid subscription_item id: {si_id}", f"{item_base}[{n}][id]")
        if bool_param(raw, "deleted"):
            ops.append(("delete", item, None, None, None))
            continue
        ops.append(_item_change(st, raw, item, f"{item_base}[{n}]"))
    return ops


def _item_change(st: State, raw: Obj, item: Obj, base: str) -> ItemOperation:
    for k in raw:
        if k not in ITEM_KEYS:
            raise unknown_param(f"{base}[{k}]")
    new_price = item["price"]
    if raw.get("price") or raw.get("plan"):
        pid = str_param(raw, "price", param=f"{base}[price]") or str_param(raw, "plan")
        new_price = st.get("price", pid, f"{base}[price]")
        if new_price["id"] != item["price"]["id"]:
            check_price(new_price, f"{base}[price]")
    qty = int_param(raw, "quantity", param=f"{base}[quantity]", minimum=0)
    if is_metered(new_price):
        if qty is not None:
            raise invalid(
                "Quantity should not be specified where usage_type is `metered`.",
                f"{base}[quantity]",
            )
    elif qty is None:
        qty = item["quantity"] if not is_metered(item["price"]) else 1
    return ("update", item, new_price, qty, metadata_param(raw))


def _resulting_prices(items: list[Obj], ops: list[ItemOperation], item_base: str) -> list[Obj]:
    """The prices the subscription will have, checked (at least one, compatible, distinct)."""
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
        check_compatible(final_prices)
        ids = [pr["id"] for pr in final_prices]
        if len(ids) != len(set(ids)):
            raise invalid("Cannot add multiple subscription items with the same price.", item_base)
    return final_prices


def _apply_item_operations(st: State, sub: Obj, u: Update) -> tuple[list[Obj], list[Obj]]:
    """Change the items. Returns the proration lines it causes and the items it created."""
    items = items_of(sub)
    new_specs: list[Obj] = []
    created: list[Obj] = []
    for op, target, op_price, op_qty, op_md in u.operations:
        if op == "delete" and target is not None:
            if u.prorates():
                new_specs += u.prorations(st, sub, target, None)
            items.remove(target)
            st.remove(target)
        elif op == "update" and target is not None and op_price is not None:
            changed = op_price["id"] != target["price"]["id"] or op_qty != target["quantity"]
            old = {"id": target["id"], "price": target["price"], "quantity": target["quantity"]}
            target["price"] = op_price
            target["plan"] = plan_of(st, op_price)
            target["quantity"] = op_qty
            apply_metadata(target["metadata"], op_md)
            if changed and u.prorates():
                new_specs += u.prorations(st, sub, old, target)
            st.save(target)
        elif op == "add" and op_price is not None:
            md = new_metadata(op_md)
            period = (u.period_start, u.period_end)
            target = add_subscription_item(st, sub["id"], op_price, op_qty, md, *period)
            items.append(target)
            created.append(target)
            if u.prorates():
                new_specs += u.prorations(st, sub, None, target)
    return new_specs, created


def _apply_fields(st: State, sub: Obj, p: Params, u: Update, pm: Obj | None) -> None:
    """The plain fields: metadata, description, payment method, collection, trial settings."""
    if "metadata" in p:
        apply_metadata(sub["metadata"], metadata_param(p))
    if "description" in p:
        sub["description"] = str_param(p, "description")
    if pm is not None:
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
        sub["trial_settings"] = trial_settings_param(p)
    _apply_cancellation(st, sub, p, u)
    if u.trial_end is not None and u.in_trial:
        _extend_trial(st, sub, u.trial_end, u.now)


def _apply_cancellation(st: State, sub: Obj, p: Params, u: Update) -> None:
    details = dict_param(p, "cancellation_details")
    if "cancel_at_period_end" in p:
        set_cancel_at_period_end(st, sub, bool(bool_param(p, "cancel_at_period_end")), details)
    elif "cancel_at" in p:
        cancel_at = int_param(p, "cancel_at")
        if cancel_at is None:
            set_cancel_at_period_end(st, sub, False, None)
        else:
            sub["cancel_at"] = cancel_at
            # Classic billing mode reports a cancel_at at the period end as cancel_at_period_end;
            # flexible mode keeps the two apart.
            classic = sub["billing_mode"]["type"] == "classic"
            sub["cancel_at_period_end"] = classic and cancel_at == u.period_end
            sub["canceled_at"] = u.now
            sub["cancellation_details"]["reason"] = "cancellation_requested"
            st.schedule(cancel_at, "cancel_at", sub["id"])
    elif details is not None:
        for k in ("comment", "feedback"):
            if k in details:
                sub["cancellation_details"][k] = details[k] or None


def _extend_trial(st: State, sub: Obj, trial_end: int, now: int) -> None:
    sub["trial_end"] = trial_end
    for it in items_of(sub):
        it["current_period_end"] = trial_end
    st.meta_of(sub["id"])["anchor_day"] = day_of(trial_end)
    sub["billing_cycle_anchor"] = trial_end
    st.schedule(trial_end, "period_end", sub["id"])
    if trial_end - 3 * DAY > now:
        st.schedule(trial_end - 3 * DAY, "trial_will_end", sub["id"])


def _invoice_specs(
    st: State, sub: Obj, u: Update, before: Obj, new_specs: list[Obj]
) -> list[Obj] | None:
    """The lines to invoice now (None: nothing now; prorations may wait for the renewal)."""
    pending: list[Obj] = st.meta_of(sub["id"]).setdefault("pending", [])
    if u.reset and (u.billable or u.end_trial_now):
        return _start_new_period(st, sub, u, before, pending)
    if new_specs:
        if u.proration == "always_invoice":
            invoice_specs = pending + new_specs
            pending.clear()
            return invoice_specs
        pending.extend(new_specs)
    elif u.proration == "always_invoice" and pending and u.operations:
        invoice_specs = list(pending)
        pending.clear()
        return invoice_specs
    return None


def _start_new_period(st: State, sub: Obj, u: Update, before: Obj, pending: list[Obj]) -> list[Obj]:
    """Interval change, ``billing_cycle_anchor=now`` or ``trial_end=now``: a period starts now."""
    credits: list[Obj] = []
    if not u.end_trial_now and u.proration != "none":
        # credit unused time on what was billed before the change
        for it_before in before["items"]["data"]:
            credits += u.prorations(st, sub, it_before, None)
    items = items_of(sub)
    interval, count = price_interval(items[0]["price"])
    now = u.now
    new_end = add_interval(now, interval, count)
    for it in items:
        it["current_period_start"] = now
        it["current_period_end"] = new_end
        st.save(it)
    st.meta_of(sub["id"])["anchor_day"] = day_of(now)
    sub["billing_cycle_anchor"] = now
    if u.end_trial_now:
        sub["trial_end"] = now
        sub["status"] = "active"
    charges = [full_line(st, it, now, new_end) for it in items if not is_metered(it["price"])]
    invoice_specs = pending + credits + charges
    pending.clear()
    st.schedule(new_end, "period_end", sub["id"])
    if sub["cancel_at_period_end"]:
        sub["cancel_at"] = new_end
    return invoice_specs


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
