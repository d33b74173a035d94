from __future__ import annotations

# Subscription schedules: phases of a subscription planned ahead. A schedule is made from an
# existing subscription (``from_subscription``), its phases replaced with ``modify``, and
# released or canceled. As fake time passes a phase's end, the next phase's items apply; at a
# billing period boundary without proration, so the renewal invoice bills the new items.
from ._engine import State
from ._errors import StripeError, invalid
from ._invoice_lines import is_metered, items_of, price_interval
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
from ._store import Obj, new_id, stripe_object
from ._subscription_cancel import LIVE, cancel_schedule_of, cancel_subscription
from ._subscription_create import check_compatible, check_price, create_subscription
from ._subscription_plan import PRORATION
from ._subscription_update import modify
from ._timeutil import add_interval

SCHEDULE_CREATE = {
    "from_subscription",
    "customer",
    "phases",
    "end_behavior",
    "metadata",
    "start_date",
}
SCHEDULE_CREATE_UNSUPPORTED = {"billing_mode", "customer_account", "default_settings"}
SCHEDULE_UPDATE = {"phases", "end_behavior", "metadata", "proration_behavior"}
SCHEDULE_UPDATE_UNSUPPORTED = {"default_settings"}
PHASE_KEYS = {
    "items",
    "start_date",
    "end_date",
    "iterations",
    "duration",
    "proration_behavior",
    "metadata",
}
PHASE_ITEM_KEYS = {"price", "plan", "quantity", "metadata"}
END_BEHAVIORS = ("release", "cancel")
OPEN = ("not_started", "active")


# ----------------------------------------------------------------------------- objects


def phase_item(price: Obj, quantity: int | None, metadata: Obj) -> Obj:
    return {
        "billing_thresholds": None,
        "discounts": (),
        "metadata": metadata,
        "plan": price["id"],
        "price": price["id"],
        "quantity": quantity,
        "tax_rates": (),
    }


def phase_object(
    items: list[Obj], currency: str, start: int, end: int, proration: str, metadata: Obj
) -> Obj:
    return {
        "add_invoice_items": (),
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": None,
        "billing_thresholds": None,
        "collection_method": None,
        "currency": currency,
        "default_payment_method": None,
        "default_tax_rates": (),
        "description": None,
        "discounts": (),
        "end_date": end,
        "invoice_settings": None,
        "items": items,
        "metadata": metadata,
        "on_behalf_of": None,
        "proration_behavior": proration,
        "start_date": start,
        "transfer_data": None,
        "trial_end": None,
    }


def schedule_object(st: State, sub: Obj, phases: list[Obj], end_behavior: str) -> Obj:
    fields: Obj = {
        "billing_mode": dict(sub["billing_mode"]),
        "created": st.now(),
        "current_phase": _dates(phases[0]),
        "customer": sub["customer"],
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": "charge_automatically",
            "default_payment_method": None,
            "description": None,
            "invoice_settings": {
                "account_tax_ids": None,
                "days_until_due": None,
                "issuer": {"type": "self"},
            },
            "on_behalf_of": None,
            "transfer_data": None,
        },
        "end_behavior": end_behavior,
        "livemode": False,
        "metadata": {},
        "phases": phases,
        "status": "active",
        "subscription": sub["id"],
    }
    nulls = (
        "application canceled_at completed_at customer_account released_at "
        "released_subscription test_clock"
    )
    # ``_phase``: the index of the current phase in ``phases``.
    return stripe_object(
        new_id("sub_sched"), "subscription_schedule", fields, nulls, "", {"_phase": 0}
    )


def _dates(phase: Obj) -> Obj:
    return {"end_date": phase["end_date"], "start_date": phase["start_date"]}


def phase_from_subscription(sub: Obj) -> Obj:
    """The one phase a schedule made from a subscription starts with: its current period."""
    items = items_of(sub)
    phase_items = [phase_item(it["price"], it["quantity"], dict(it["metadata"])) for it in items]
    start, end = items[0]["current_period_start"], items[0]["current_period_end"]
    return phase_object(phase_items, sub["currency"], start, end, "create_prorations", {})


# --------------------------------------------------------------------------------- API


def create_schedule(st: State, p: Params) -> Obj:
    check_params(p, SCHEDULE_CREATE, SCHEDULE_CREATE_UNSUPPORTED)
    sub_id = str_param(p, "from_subscription")
    if sub_id is None:
        return _create_with_phases(st, p)
    for key in ("customer", "phases", "end_behavior", "start_date"):
        if key in p:
            raise invalid(f"You cannot set `{key}` if `from_subscription` is set.", key)
    sub = st.get("subscription", sub_id, "from_subscription")
    if sub["status"] not in LIVE:
        raise invalid(
            f"You cannot create a subscription schedule from a subscription with status "
            f"`{sub['status']}`.",
            "from_subscription",
        )
    if sub["schedule"] is not None:
        raise invalid(
            "You cannot migrate a subscription that is already attached to a schedule: "
            f"`{sub['schedule']}`.",
            "from_subscription",
        )
    return _start(st, sub, [phase_from_subscription(sub)], "release", p)


def _create_with_phases(st: State, p: Params) -> Obj:
    """``customer`` and ``phases`` (starting now): the schedule creates the subscription from
    its first phase."""
    cus = st.get("customer", str_param(p, "customer", required=True), "customer")
    if str_param(p, "start_date") not in (None, "now"):
        raise StripeError(
            400,
            "fakestripe only starts subscription schedules now: pass `start_date=now`.",
            param="start_date",
            code="parameter_unknown",
        )
    raw_phases = list_param(p, "phases")
    if raw_phases is None:
        raise invalid("Missing required param: phases.", "phases", "parameter_missing")
    end_behavior = choice_param(p, "end_behavior", END_BEHAVIORS) or "release"
    # One instant for the phases and the subscription, so the first phase ends with its period.
    previous = st.clock.pinned
    st.clock.pinned = st.now()
    try:
        phases = _parse_phases(st, raw_phases, st.now(), None)
        items = [_change(None, pi["price"], pi["quantity"]) for pi in phases[0]["items"]]
        sub = create_subscription(st, {"customer": cus["id"], "items": items})
        return _start(st, sub, phases, end_behavior, p)
    finally:
        st.clock.pinned = previous


def _start(st: State, sub: Obj, phases: list[Obj], end_behavior: str, p: Params) -> Obj:
    sched = schedule_object(st, sub, phases, end_behavior)
    apply_metadata(sched["metadata"], metadata_param(p))
    st.add(sched)
    st.emit("subscription_schedule.created", sched)
    _sync_cancel_at(st, sched, sub)
    _attach(st, sub, sched["id"])
    st.schedule(phases[0]["end_date"], "schedule_phase", sched["id"])
    return sched


def _sync_cancel_at(st: State, sched: Obj, sub: Obj, keep: bool = False) -> None:
    """``end_behavior=cancel`` shows on the subscription as ``cancel_at`` = the schedule's
    end; otherwise a ``cancel_at`` the schedule set goes (unless ``keep``)."""
    ours = sched.get("_cancel_at")
    if sched["end_behavior"] == "cancel" and sched["status"] in OPEN:
        sub["cancel_at"] = sched["_cancel_at"] = sched["phases"][-1]["end_date"]
    elif ours is not None and sub["cancel_at"] == ours:
        if keep:  # the subscription now cancels on its own at that date
            st.schedule(ours, "cancel_at", sub["id"])
        else:
            sub["cancel_at"] = None
        sched["_cancel_at"] = None
    st.save(sub)


def _attach(st: State, sub: Obj, sched_id: str | None) -> None:
    before = st.snapshot(sub)
    sub["schedule"] = sched_id
    st.save(sub)
    st.emit_update("customer.subscription.updated", sub, before)


def update_schedule(st: State, sched: Obj, p: Params) -> Obj:
    check_params(p, SCHEDULE_UPDATE, SCHEDULE_UPDATE_UNSUPPORTED)
    _require_open(sched, "update")
    sub = st.objects[sched["subscription"]]
    end_behavior = choice_param(p, "end_behavior", END_BEHAVIORS)
    proration = choice_param(p, "proration_behavior", PRORATION)
    raw_phases = list_param(p, "phases")
    phases = None
    if raw_phases is not None:
        start = sched["current_phase"]["start_date"]
        phases = _parse_phases(st, raw_phases, start, sub["currency"])
    before = st.snapshot(sched)
    if phases is not None:
        current = phases[0]
        # The subscription first: should that fail, the schedule is left as it was.
        _apply_phase(st, sub, current, proration or current["proration_behavior"])
        sched["phases"] = phases
        sched["_phase"] = 0
        sched["current_phase"] = _dates(current)
        st.schedule(current["end_date"], "schedule_phase", sched["id"])
    if end_behavior is not None:
        sched["end_behavior"] = end_behavior
    apply_metadata(sched["metadata"], metadata_param(p))
    st.save(sched)
    sub_before = st.snapshot(sub)
    _sync_cancel_at(st, sched, sub)
    st.emit_update("customer.subscription.updated", sub, sub_before)
    st.emit_update("subscription_schedule.updated", sched, before)
    return sched


def release_schedule(st: State, sched: Obj, p: Params) -> Obj:
    check_params(p, {"preserve_cancel_date"})
    _require_open(sched, "release")
    sub = st.objects.get(sched["subscription"])
    keep = bool(bool_param(p, "preserve_cancel_date"))
    sched["status"] = "released"
    sched["released_at"] = st.now()
    sched["released_subscription"] = sched["subscription"]
    sched["subscription"] = None
    sched["current_phase"] = None
    st.save(sched)
    if sub is not None:
        _sync_cancel_at(st, sched, sub, keep)
        _attach(st, sub, None)
    st.emit("subscription_schedule.released", sched)
    return sched


def cancel_schedule(st: State, sched: Obj, p: Params) -> Obj:
    """Cancel the schedule and, as Stripe does, its subscription."""
    check_params(p, {"invoice_now", "prorate"})
    _require_open(sched, "cancel")
    sub = st.objects.get(sched["subscription"])
    if sub is not None and sub["status"] in LIVE:
        # Both default to true for a schedule (unlike cancelling the subscription itself).
        invoice_now = bool_param(p, "invoice_now") is not False
        prorate = bool_param(p, "prorate") is not False
        cancel_subscription(st, sub, invoice_now=invoice_now, prorate=prorate)
    if sched["status"] in OPEN:  # cancelling the subscription cancels its schedule too
        cancel_schedule_of(st, sched)
    return sched


def _require_open(sched: Obj, verb: str) -> None:
    """``verb``: what the caller does to the schedule (``update``, ``release``, ``cancel``)."""
    if sched["status"] not in OPEN:
        done = {"update": "updated", "release": "released", "cancel": "canceled"}[verb]
        raise invalid(
            f"You cannot {verb} a subscription schedule that is currently in the "
            f"`{sched['status']}` status. It must be in `not_started`, `active` status to be "
            f"{done}."
        )


# ------------------------------------------------------------------------------ phases


def _parse_phases(
    st: State, raw_phases: list[object], current_start: int, currency: str | None
) -> list[Obj]:
    """Parse ``phases``: the current phase first (starting at ``current_start``), then future
    ones, each starting where the one before ends. ``currency`` None: the first price's."""
    if not raw_phases:
        raise invalid("You must provide at least one phase.", "phases")
    now = st.now()
    phases: list[Obj] = []
    start = current_start
    for n, raw in enumerate(raw_phases):
        base = f"phases[{n}]"
        if not isinstance(raw, dict):
            raise invalid("Invalid object", base)
        phase = _parse_phase(st, raw, base, start, currency)
        currency = phase["currency"]
        if n == 0 and phase["start_date"] != current_start:
            raise invalid(
                "You can not modify the start date of the current phase.", f"{base}[start_date]"
            )
        if n > 0 and phase["start_date"] != start:
            raise invalid(
                f"The start_date of phase {n} must equal the end_date of phase {n - 1}.",
                f"{base}[start_date]",
            )
        if phase["end_date"] <= now:
            raise invalid(
                f"Phase {n} would end in the past; phases that have already ended cannot be "
                "added or changed.",
                f"{base}[end_date]",
            )
        phases.append(phase)
        start = phase["end_date"]
    return phases


def _parse_phase(st: State, raw: Obj, base: str, default_start: int, currency: str | None) -> Obj:
    for key in raw:
        if key not in PHASE_KEYS:
            raise unknown_param(f"{base}[{key}]")
    items, prices = _parse_phase_items(st, raw, base)
    if currency is not None and prices[0]["currency"] != currency:
        raise invalid("All phases of a schedule must use the same currency.", f"{base}[items]")
    start = int_param(raw, "start_date", param=f"{base}[start_date]")
    start = default_start if start is None else start
    end = _phase_end(raw, base, start, price_interval(prices[0]))
    if end <= start:
        raise invalid("The end_date of a phase must be after its start_date.", f"{base}[end_date]")
    proration = (
        choice_param(raw, "proration_behavior", PRORATION, f"{base}[proration_behavior]")
        or "create_prorations"
    )
    metadata = new_metadata(metadata_param(raw))
    return phase_object(items, prices[0]["currency"], start, end, proration, metadata)


def _phase_end(raw: Obj, base: str, start: int, interval: tuple[str, int]) -> int:
    """``end_date``, else ``iterations`` of the first price's interval, else ``duration``;
    one iteration when none is given."""
    end = int_param(raw, "end_date", param=f"{base}[end_date]")
    if end is not None:
        return end
    duration = dict_param(raw, "duration", f"{base}[duration]")
    if duration is not None:
        interval = choice_param(
            duration, "interval", ("day", "week", "month", "year"), f"{base}[duration][interval]"
        )
        count = int_param(duration, "interval_count", param=f"{base}[duration][interval_count]")
        return add_interval(start, interval or "month", count or 1)
    iterations = int_param(raw, "iterations", param=f"{base}[iterations]", minimum=1) or 1
    unit, count = interval
    return add_interval(start, unit, count * iterations)


def _parse_phase_items(st: State, raw: Obj, base: str) -> tuple[list[Obj], list[Obj]]:
    """The phase's items and their prices (checked to bill together)."""
    raw_items = list_param(raw, "items", f"{base}[items]")
    if not raw_items:
        raise invalid("Missing required param: items.", f"{base}[items]", "parameter_missing")
    items: list[Obj] = []
    prices: list[Obj] = []
    for n, item in enumerate(raw_items):
        ibase = f"{base}[items][{n}]"
        if not isinstance(item, dict):
            raise invalid("Invalid object", ibase)
        for key in item:
            if key not in PHASE_ITEM_KEYS:
                raise unknown_param(f"{ibase}[{key}]")
        pid = str_param(item, "price", param=f"{ibase}[price]") or str_param(item, "plan")
        if pid is None:
            raise invalid("Missing required param: price.", f"{ibase}[price]", "parameter_missing")
        price = st.get("price", pid, f"{ibase}[price]")
        check_price(price, f"{ibase}[price]")
        qty = int_param(item, "quantity", param=f"{ibase}[quantity]", minimum=0)
        if qty is None and not is_metered(price):
            qty = 1
        items.append(phase_item(price, qty, new_metadata(metadata_param(item))))
        prices.append(price)
    check_compatible(prices)
    return items, prices


def _apply_phase(st: State, sub: Obj, phase: Obj, proration: str) -> None:
    """Make the subscription's items those of ``phase`` (a no-op when they already are)."""
    changes = _item_changes(st, sub, phase)
    if changes:
        modify(st, sub, {"items": changes, "proration_behavior": proration})


def _item_changes(st: State, sub: Obj, phase: Obj) -> list[Obj]:
    """Subscription update ``items`` turning the current items into the phase's. An item
    whose price stays keeps its id; the others are paired up in order (a price change of the
    item), and what is left over is added or deleted."""
    current = {it["price"]["id"]: it for it in items_of(sub)}
    wanted = {pi["price"]: pi for pi in phase["items"]}
    changes: list[Obj] = []
    for pid, pi in wanted.items():
        item = current.get(pid)
        if item is not None and item["quantity"] != pi["quantity"]:
            changes.append(_change(item["id"], pid, pi["quantity"]))
    dropped = [it for pid, it in current.items() if pid not in wanted]
    added = [pi for pid, pi in wanted.items() if pid not in current]
    for item, pi in zip(dropped, added, strict=False):
        changes.append(_change(item["id"], pi["price"], pi["quantity"]))
    for item in dropped[len(added) :]:
        changes.append({"id": item["id"], "deleted": "true"})
    for pi in added[len(dropped) :]:
        changes.append(_change(None, pi["price"], pi["quantity"]))
    return changes


def _change(item_id: str | None, price_id: str, quantity: int | None) -> Obj:
    change: Obj = {"price": price_id}
    if item_id is not None:
        change["id"] = item_id
    if quantity is not None:
        change["quantity"] = str(quantity)
    return change


# ------------------------------------------------------------------------- fake time


def on_phase_end(st: State, sched_id: str, when: int) -> None:
    """Scheduled at each phase's end: move to the next phase (or end the schedule)."""
    sched = st.colls["subscription_schedule"].get(sched_id)
    if sched is None or sched["status"] != "active":
        return
    if sched["phases"][sched["_phase"]]["end_date"] != when:
        return  # already moved on (see phase_boundary) or the phases were replaced
    sub = st.objects[sched["subscription"]]
    at_boundary = items_of(sub)[0]["current_period_end"] == when
    _next_phase(st, sched, sub, when, at_boundary)


def items_from(st: State, sub: Obj, at: int) -> list[Obj] | None:
    """The items the subscription's schedule gives it from ``at`` (stubs: ``id``, ``price``,
    ``quantity``), when a phase starts then; else None."""
    sched = st.colls["subscription_schedule"].get(sub["schedule"] or "")
    if sched is None or sched["status"] != "active":
        return None
    later = [ph for ph in sched["phases"][sched["_phase"] + 1 :] if ph["start_date"] == at]
    if not later:
        return None
    current = {it["price"]["id"]: it["id"] for it in items_of(sub)}
    return [
        {
            "id": current.get(pi["price"], "si_upcoming"),
            "price": st.objects[pi["price"]],
            "quantity": pi["quantity"],
        }
        for pi in later[0]["items"]
    ]


def phase_boundary(st: State, sub: Obj, when: int) -> None:
    """Called by the renewal before it bills: a phase ending with the period applies first,
    so the renewal invoice bills the new phase's items."""
    sched = st.colls["subscription_schedule"].get(sub["schedule"] or "")
    if sched is None or sched["status"] != "active":
        return
    if sched["phases"][sched["_phase"]]["end_date"] == when:
        _next_phase(st, sched, sub, when, at_boundary=True)


def _next_phase(st: State, sched: Obj, sub: Obj, when: int, at_boundary: bool) -> None:
    index = sched["_phase"] + 1
    if index >= len(sched["phases"]):
        _complete(st, sched, sub, when)
        return
    before = st.snapshot(sched)
    phase = sched["phases"][index]
    sched["_phase"] = index
    sched["current_phase"] = _dates(phase)
    st.save(sched)
    # At a period boundary there is no unused time to prorate: the renewal bills the phase.
    _apply_phase(st, sub, phase, "none" if at_boundary else phase["proration_behavior"])
    st.schedule(phase["end_date"], "schedule_phase", sched["id"])
    st.emit_update("subscription_schedule.updated", sched, before)


def _complete(st: State, sched: Obj, sub: Obj, when: int) -> None:
    """The last phase ended: the schedule completes and lets go of the subscription, which
    goes on (``release``) or is canceled (``cancel``)."""
    sched["status"] = "completed"
    sched["completed_at"] = when
    sched["current_phase"] = None
    st.save(sched)
    _sync_cancel_at(st, sched, sub, keep=sched["end_behavior"] == "cancel")
    _attach(st, sub, None)
    if sched["end_behavior"] == "cancel" and sub["status"] in LIVE:
        cancel_subscription(st, sub)
    st.emit("subscription_schedule.completed", sched)
