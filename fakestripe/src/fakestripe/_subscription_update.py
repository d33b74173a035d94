from __future__ import annotations

# Updating subscriptions and their items: plan changes, prorations, new periods. What an
# update does is decided first (``_subscription_plan``), then applied here.
from dataclasses import dataclass

from ._catalog import plan_of
from ._discounts import (
    Grant,
    active_discounts,
    end_discounts,
    parse_discounts,
    redeem,
    share_out,
)
from ._engine import State
from ._errors import StripeError, invalid, missing_param
from ._invoice_items import record_invoice_items
from ._invoice_lines import NO_PM, charge_outcome, default_pm, items_of
from ._invoices import bill
from ._params import (
    Params,
    apply_metadata,
    bool_param,
    check_params,
    choice_param,
    dict_param,
    int_param,
    metadata_param,
    new_metadata,
    str_param,
)
from ._store import Obj
from ._subscription_cancel import set_cancel_at_period_end
from ._subscription_create import (
    PAYMENT_BEHAVIOR,
    add_subscription_item,
    payment_method_for,
    trial_settings_param,
)
from ._subscription_plan import (
    PRORATION,
    Update,
    invoices_now,
    new_period_end,
    new_period_specs,
    plan_update,
    proration_specs,
    resulting_items,
)
from ._timeutil import DAY, day_of

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
    "discounts",
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
    "on_behalf_of",
    "pause_collection",
    "pending_invoice_item_interval",
    "transfer_data",
    "trial_from_plan",
}


def update_subscription(st: State, sub: Obj, p: Params) -> Obj:
    check_params(p, SUB_UPDATE, SUB_UPDATE_UNSUPPORTED)
    modify(st, sub, p)
    return sub


@dataclass
class Lines:
    """The invoice lines an update causes, computed before anything changes."""

    prorations: list[Obj]  # for the item operations (none when a new period starts)
    new_period: list[Obj] | None  # credits and charges of a period starting now
    new_end: int | None  # the end of that period


def modify(st: State, sub: Obj, p: Params, item_base: str = "items") -> list[Obj]:
    """Apply a subscription update. Returns newly created items."""
    _refuse_canceled(sub, p)
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
    update = plan_update(st, sub, p, item_base, proration)
    pm: Obj | None = None
    pm_param = str_param(p, "default_payment_method")
    if pm_param is not None:
        pm = payment_method_for(st, cus, pm_param, "default_payment_method")
    grants = parse_discounts(st, p, cus["id"]) if "discounts" in p else None
    lines = plan_lines(st, sub, update)
    if behavior == "error_if_incomplete":
        _refuse_failing_payment(st, sub, cus, update, lines, pm, grants)
    before = st.snapshot(sub)
    created = _apply_item_operations(st, sub, update)
    _apply_fields(st, sub, p, update, pm)
    if grants is not None:
        # The given discounts replace the subscription's.
        end_discounts(st, sub["discounts"])
        sub["discounts"] = redeem(st, grants, cus["id"], sub["id"], update.now)
    invoice_specs = _invoice_specs(st, sub, update, lines)
    st.save(sub)
    st.emit_update("customer.subscription.updated", sub, before)
    if invoice_specs is not None:
        bill(st, sub, invoice_specs, "subscription_update", update.now, update.now)
    return created


def _refuse_canceled(sub: Obj, p: Params) -> None:
    if sub["status"] in ("canceled", "incomplete_expired"):
        allowed = {"metadata", "cancellation_details", "expand"}
        if set(p) - allowed:
            raise invalid(
                "A canceled subscription can only update its cancellation_details and metadata."
            )
    if sub["schedule"] is not None and {"cancel_at", "cancel_at_period_end"} & set(p):
        raise invalid(
            f"The subscription is managed by the subscription schedule `{sub['schedule']}`, "
            "and updating any cancelation behavior directly is not allowed. Please update the "
            "schedule instead."
        )


def plan_lines(st: State, sub: Obj, u: Update) -> Lines:
    """The lines of ``u``: what the update bills and what its preview shows."""
    if u.reset and invoices_now(u):
        items = resulting_items(sub, u)
        end = new_period_end(items, u.now)
        return Lines([], new_period_specs(st, sub, u, items, end), end)
    return Lines(proration_specs(st, sub, u), None, None)


def lines_due_now(st: State, sub: Obj, u: Update, lines: Lines) -> list[Obj] | None:
    """What the update invoices at once, pending invoice items included (None: nothing)."""
    pending: list[Obj] = st.meta_of(sub["id"]).get("pending", [])
    if lines.new_period is not None:
        return pending + lines.new_period
    if u.proration == "always_invoice" and u.operations and (lines.prorations or pending):
        return pending + lines.prorations
    return None


def _refuse_failing_payment(
    st: State,
    sub: Obj,
    cus: Obj,
    u: Update,
    lines: Lines,
    pm: Obj | None,
    grants: list[Grant] | None,
) -> None:
    """``payment_behavior=error_if_incomplete``: fail (changing nothing) when the invoice
    the update creates now (after its discounts: ``grants`` when the update sets them) would
    not be paid."""
    due = lines_due_now(st, sub, u, lines) if invoices_now(u) else None
    if due is None:
        return
    if grants is not None:
        given = [(None, coupon) for coupon, _ in grants]
    else:
        given = [(d["id"], d["_coupon"]) for d in active_discounts(st, sub, u.now)]
    amounts = [{"amount": s["amount"], "discountable": s["discountable"]} for s in due]
    off = sum(d["amount"] for d in share_out(amounts, given, sub["currency"]))
    if sum(s["amount"] for s in due) - off + cus["balance"] <= 0:
        return
    probe = pm or default_pm(st, sub, cus)
    outcome, decline = charge_outcome(st, probe)
    if outcome != "paid":
        raise decline.error() if probe is not None else invalid(NO_PM.message)


def _apply_item_operations(st: State, sub: Obj, u: Update) -> list[Obj]:
    """Change the items. Returns the items it created."""
    items = items_of(sub)
    created: list[Obj] = []
    for op, target, op_price, op_qty, op_md in u.operations:
        if op == "delete" and target is not None:
            items.remove(target)
            st.remove(target)
        elif op == "update" and target is not None and op_price is not None:
            target["price"] = op_price
            target["plan"] = plan_of(st, op_price)
            target["quantity"] = op_qty
            apply_metadata(target["metadata"], op_md)
            st.save(target)
        elif op == "add" and target is not None and op_price is not None:
            md = new_metadata(op_md)
            period = (u.period_start, u.period_end)
            item = add_subscription_item(
                st, sub["id"], op_price, op_qty, md, *period, item_id=target["id"]
            )
            items.append(item)
            created.append(item)
    return created


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


def _invoice_specs(st: State, sub: Obj, u: Update, lines: Lines) -> list[Obj] | None:
    """The lines to invoice now (None: nothing now; prorations wait for the next invoice)."""
    pending: list[Obj] = st.meta_of(sub["id"]).setdefault("pending", [])
    due = lines_due_now(st, sub, u, lines)
    if lines.new_period is not None and lines.new_end is not None:
        _start_new_period(st, sub, u, lines.new_end)
    if due is None:
        pending.extend(lines.prorations)
        record_invoice_items(st, sub, lines.prorations, None)
        return None
    pending.clear()
    return due


def _start_new_period(st: State, sub: Obj, u: Update, new_end: int) -> None:
    """Interval change, ``billing_cycle_anchor=now`` or ``trial_end=now``: a period starts now."""
    now = u.now
    for it in items_of(sub):
        it["current_period_start"] = now
        it["current_period_end"] = new_end
        st.save(it)
    st.meta_of(sub["id"])["anchor_day"] = day_of(now)
    sub["billing_cycle_anchor"] = now
    if u.end_trial_now:
        sub["trial_end"] = now
        sub["status"] = "active"
    st.schedule(new_end, "period_end", sub["id"])
    if sub["cancel_at_period_end"]:
        sub["cancel_at"] = new_end


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
