from __future__ import annotations

# Cancelling subscriptions (now, at period end, at a date) and deleting customers.
from ._engine import State
from ._errors import invalid
from ._invoice_items import record_invoice_items
from ._invoice_lines import is_metered, items_of, proration_pair, usage_line
from ._invoices import bill
from ._params import (
    Params,
    bool_param,
    check_params,
    dict_param,
)
from ._store import Obj

LIVE = ("active", "trialing", "past_due", "unpaid")


def set_cancel_at_period_end(st: State, sub: Obj, flag: bool, details: Obj | None) -> None:
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
                credits = proration_pair(st, sub, item, None, now, start, end)
                pending.extend(credits)
                record_invoice_items(st, sub, credits, None)
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
    sched = st.colls["subscription_schedule"].get(sub["schedule"] or "")
    if sched is not None and sched["status"] in ("not_started", "active"):
        cancel_schedule_of(st, sched)
    return sub


def cancel_schedule_of(st: State, sched: Obj) -> None:
    """A subscription schedule ends with its subscription (and vice versa)."""
    sched["status"] = "canceled"
    sched["canceled_at"] = st.now()
    sched["current_phase"] = None
    st.save(sched)
    st.emit("subscription_schedule.canceled", sched)


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


def delete_customer(st: State, cus: Obj) -> Obj:
    for sub in list(st.colls["subscription"].candidates("customer", cus["id"])):
        obj = st.objects[sub]
        if obj["status"] not in ("canceled", "incomplete_expired"):
            cancel_subscription(st, obj, reason="cancellation_requested")
    stub = {"id": cus["id"], "object": "customer", "deleted": True}
    st.remove(cus, stub)
    st.emit("customer.deleted", cus)
    return stub
