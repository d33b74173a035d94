from __future__ import annotations

# Planning a subscription update before anything changes: the item operations, whether a new
# period starts, and the invoice lines it causes. Shared by the update itself and the invoice
# preview (/v1/invoices/create_preview), so a preview shows exactly what the update will bill.
from dataclasses import dataclass

from ._engine import State
from ._errors import invalid
from ._invoice_lines import full_line, is_metered, items_of, price_interval, proration_pair
from ._params import (
    Params,
    bool_param,
    choice_param,
    int_param,
    list_param,
    metadata_param,
    str_param,
    unknown_param,
)
from ._store import Obj, new_id
from ._subscription_create import ITEM_KEYS, check_compatible, check_price, parse_item
from ._timeutil import add_interval

PRORATION = ("create_prorations", "always_invoice", "none")


#: One item operation of an update: (kind, item, price, quantity, metadata), kind being
#: ``add``, ``update`` or ``delete``. An ``add`` carries a stub item (``id``, ``price``,
#: ``quantity``) whose id the created item takes, so its proration lines can name it before
#: it exists.
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


def plan_update(st: State, sub: Obj, p: Params, item_base: str, proration: str) -> Update:
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
            stub = {"id": new_id("si", 14), "price": price, "quantity": qty}
            ops.append(("add", stub, price, qty, md))
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


def proration_specs(st: State, sub: Obj, u: Update) -> list[Obj]:
    """The proration lines of the item operations (credit for the old, charge for the new),
    in operation order. Nothing changes: the update and its preview both call this."""
    if not u.prorates():
        return []
    specs: list[Obj] = []
    for op, target, op_price, op_qty, _ in u.operations:
        if target is None:
            continue
        if op == "delete":
            specs += u.prorations(st, sub, target, None)
        elif op == "add":
            specs += u.prorations(st, sub, None, target)
        elif op_price is not None:
            if op_price["id"] == target["price"]["id"] and op_qty == target["quantity"]:
                continue
            new = {"id": target["id"], "price": op_price, "quantity": op_qty}
            specs += u.prorations(st, sub, target, new)
    return specs


def resulting_items(sub: Obj, u: Update) -> list[Obj]:
    """The items as they will be after the update (stubs: ``id``, ``price``, ``quantity``)."""
    result: dict[str, Obj] = {
        it["id"]: {"id": it["id"], "price": it["price"], "quantity": it["quantity"]}
        for it in items_of(sub)
    }
    for op, target, op_price, op_qty, _ in u.operations:
        if target is None:
            continue
        if op == "delete":
            result.pop(target["id"], None)
        elif op_price is not None:
            result[target["id"]] = {"id": target["id"], "price": op_price, "quantity": op_qty}
    return list(result.values())


def new_period_end(items: list[Obj], start: int) -> int:
    interval, count = price_interval(items[0]["price"])
    return add_interval(start, interval, count)


def new_period_specs(st: State, sub: Obj, u: Update, items: list[Obj], end: int) -> list[Obj]:
    """The lines of a period that starts now (interval change, ``billing_cycle_anchor=now``,
    ``trial_end=now``): credit for the unused time already billed, then the new period."""
    credits: list[Obj] = []
    if not u.end_trial_now and u.proration != "none":
        for old in items_of(sub):
            credits += u.prorations(st, sub, old, None)
    charges = [full_line(st, it, u.now, end) for it in items if not is_metered(it["price"])]
    return credits + charges


def invoices_now(u: Update) -> bool:
    """Whether the update bills at once (else prorations wait for the next invoice)."""
    if u.reset:
        return u.billable or u.end_trial_now
    return u.billable and u.proration == "always_invoice" and bool(u.operations)
