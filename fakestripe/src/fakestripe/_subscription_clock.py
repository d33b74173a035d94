from __future__ import annotations

# The billing clock: renewals, trial ends, scheduled cancellations, expiries and invoice
# retries, run as fake time passes; and the expandable fields they share.
from ._engine import State
from ._invoice_lines import default_pm, full_line, is_metered, items_of, price_interval, usage_line
from ._invoices import attempt_payment, bill, confirmation_secret, void_invoice
from ._store import Obj
from ._subscription_cancel import LIVE, cancel_subscription
from ._subscription_schedules import on_phase_end, phase_boundary
from ._timeutil import DAY, add_interval

# ------------------------------------------------------------------------------- helpers


# ------------------------------------------------------------------------------- invoices


# -------------------------------------------------------------------------- subscriptions


# ------------------------------------------------------------------ subscription items API


# ------------------------------------------------------------------------ scheduled work


def on_period_end(st: State, sub_id: str, when: int) -> None:
    sub = st.colls["subscription"].get(sub_id)
    if sub is None or sub["status"] not in LIVE:
        return
    items = items_of(sub)
    if not items or items[0]["current_period_end"] != when:
        return
    # A schedule's phase ending now applies first (its end may also cancel the subscription).
    phase_boundary(st, sub, when)
    items = items_of(sub)
    if sub["status"] not in LIVE or items[0]["current_period_end"] != when:
        return  # the schedule ended the subscription, or its new phase started a new period
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
    interval, count = price_interval(items[0]["price"])
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
            "schedule_phase": on_phase_end,
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
