from __future__ import annotations

# Invoice previews (POST /v1/invoices/create_preview) of a subscription, as it is or with
# changes in ``subscription_details``. The lines come from the same planning functions the
# update itself bills with, so a preview and the update that follows (same proration_date)
# agree to the cent.
from ._discounts import active_discounts
from ._engine import State
from ._errors import StripeError, invalid
from ._invoice_lines import (
    full_line,
    invoice_line_object,
    is_metered,
    price_interval,
    usage_line,
)
from ._invoices import invoice_object
from ._params import Params, check_params, choice_param, dict_param, str_param
from ._store import Obj, new_id
from ._subscription_cancel import LIVE
from ._subscription_plan import PRORATION, Update, invoices_now, plan_update, resulting_items
from ._subscription_schedules import items_from
from ._subscription_update import lines_due_now, plan_lines
from ._timeutil import add_interval

PREVIEW_KEYS = {"customer", "subscription", "subscription_details", "automatic_tax"}
PREVIEW_UNSUPPORTED = {
    "currency",
    "customer_account",
    "customer_details",
    "discounts",
    "invoice_items",
    "issuer",
    "on_behalf_of",
    "preview_mode",
    "schedule",
    "schedule_details",
}
DETAILS_KEYS = {
    "billing_cycle_anchor",
    "items",
    "proration_behavior",
    "proration_date",
    "trial_end",
}
DETAILS_UNSUPPORTED = {
    "billing_mode",
    "cancel_at",
    "cancel_at_period_end",
    "cancel_now",
    "default_tax_rates",
    "resume_at",
    "start_date",
}

#: The list key ``plan_update`` reads the items from; it also names them in errors.
ITEMS = "subscription_details[items]"


def preview_invoice(st: State, p: Params) -> Obj:
    check_params(p, PREVIEW_KEYS, PREVIEW_UNSUPPORTED)
    sub = _subscription_of(st, p)
    details = dict_param(p, "subscription_details") or {}
    check_params(details, DETAILS_KEYS, DETAILS_UNSUPPORTED)
    proration = choice_param(details, "proration_behavior", PRORATION) or "create_prorations"
    params = dict(details)
    if "items" in params:
        params[ITEMS] = params.pop("items")
    update = plan_update(st, sub, params, ITEMS, proration)
    lines = plan_lines(st, sub, update)
    due = lines_due_now(st, sub, update, lines) if invoices_now(update) else None
    if due is not None:
        return _preview_object(st, sub, due, (update.now, update.now))
    pending: list[Obj] = st.meta_of(sub["id"]).get("pending", [])
    specs = pending + lines.prorations + _renewal_lines(st, sub, update)
    if not specs:
        raise _no_upcoming(sub["customer"])
    return _preview_object(st, sub, specs, (update.period_start, update.period_end))


def _subscription_of(st: State, p: Params) -> Obj:
    sub_id = str_param(p, "subscription")
    cus_id = str_param(p, "customer")
    if sub_id is None:
        raise StripeError(
            400,
            "fakestripe previews invoices of existing subscriptions only: pass `subscription`.",
            param="subscription",
            code="parameter_missing",
        )
    sub = st.get("subscription", sub_id, "subscription")
    if cus_id is not None and cus_id != sub["customer"]:
        st.get("customer", cus_id, "customer")
        raise invalid(
            f"The subscription '{sub_id}' does not belong to the customer '{cus_id}'.",
            "subscription",
        )
    if sub["status"] not in LIVE:
        raise _no_upcoming(sub["customer"])
    return sub


def _no_upcoming(customer: str) -> StripeError:
    return invalid(f"No upcoming invoices for customer: {customer}", None, "invoice_upcoming_none")


def _renewal_lines(st: State, sub: Obj, u: Update) -> list[Obj]:
    """The next period's lines (usage of the current one for metered prices), unless the
    subscription ends at the end of this period."""
    if sub["cancel_at"] is not None and sub["cancel_at"] <= u.period_end:
        return []
    # Without changes of its own the preview follows the subscription's schedule.
    scheduled = None if u.operations else items_from(st, sub, u.period_end)
    items = scheduled or resulting_items(sub, u)
    interval, count = price_interval(items[0]["price"])
    anchor_day = st.meta_of(sub["id"]).get("anchor_day")
    start = u.period_end
    end = add_interval(start, interval, count, anchor_day)
    specs: list[Obj] = []
    for item in items:
        if not is_metered(item["price"]):
            specs.append(full_line(st, item, start, end))
        elif not u.in_trial:
            specs.append(usage_line(st, sub, item, u.period_start, start))
    return specs


def _preview_object(st: State, sub: Obj, specs: list[Obj], period: tuple[int, int]) -> Obj:
    """A preview invoice: never stored, id prefixed ``upcoming_in`` (as stripe-python
    documents), lines prefixed ``il_tmp``, billing_reason ``upcoming``."""
    cus = st.objects[sub["customer"]]
    inv_id = new_id("upcoming_in")
    lines = []
    for spec in specs:
        line = invoice_line_object(st, inv_id, sub, spec)
        line["id"] = new_id("il_tmp")
        lines.append(line)
    discounts = active_discounts(st, sub, st.now())
    inv = invoice_object(st, sub, cus, inv_id, lines, "upcoming", period, discounts)
    prorated = [s["start"] for s in specs if s["proration"]]
    if prorated:
        inv["parent"]["subscription_details"]["subscription_proration_date"] = min(prorated)
    del inv["_sub"]
    return inv
