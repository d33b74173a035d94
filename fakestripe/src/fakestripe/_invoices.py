from __future__ import annotations

# Invoices: invoice_object(), billing a subscription, finalizing, paying, voiding.
from ._cards import Decline
from ._discounts import active_discounts, share_out, used_up
from ._engine import State
from ._errors import StripeError, invalid
from ._invoice_items import record_invoice_items
from ._invoice_lines import NO_PM, charge_outcome, default_pm, invoice_line_object
from ._params import (
    Params,
    bool_param,
    check_params,
    str_param,
)
from ._payment_methods import attach_pm, not_attached, resolve_pm
from ._store import Obj, new_id, rand_str, stripe_object
from ._timeutil import DAY

#: Invoice fields the fake never sets (no tax, Connect, shipping, quotes or revisions).
INVOICE_NULLS = (
    "account_tax_ids application automatically_finalizes_at custom_fields customer_account "
    "customer_shipping default_payment_method default_source description due_date effective_at "
    "ending_balance footer from_invoice hosted_invoice_url invoice_pdf last_finalization_error "
    "latest_revision next_payment_attempt number on_behalf_of receipt_number rendering "
    "shipping_cost shipping_details statement_descriptor test_clock webhooks_delivered_at"
)
INVOICE_EMPTY_LISTS = "customer_tax_ids default_tax_rates total_pretax_credit_amounts total_taxes"


def invoice_object(
    st: State,
    sub: Obj,
    cus: Obj,
    inv_id: str,
    lines: list[Obj],
    reason: str,
    period: tuple[int, int],
    discounts: list[Obj] | None = None,
) -> Obj:
    """A draft invoice of ``sub`` with its ``lines`` (invoice line objects), less its
    ``discounts`` (discount objects)."""
    period_start, period_end = period
    subtotal = sum(line["amount"] for line in lines)
    given = [(d["id"], d["_coupon"]) for d in discounts or []]
    discount_amounts = share_out(lines, given, sub["currency"])
    total = subtotal - sum(entry["amount"] for entry in discount_amounts)
    amount_due = max(0, total + cus["balance"])
    fields: Obj = {
        "account_country": "US",
        "account_name": st.account["business_profile"]["name"],
        "amount_due": amount_due,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": amount_due,
        "amount_shipping": 0,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "billing_reason": reason,
        "collection_method": sub["collection_method"],
        "created": st.now(),
        "currency": sub["currency"],
        "customer": cus["id"],
        "customer_address": cus["address"],
        "customer_email": cus["email"],
        "customer_name": cus["name"],
        "customer_phone": cus["phone"],
        "customer_tax_exempt": cus["tax_exempt"],
        "discounts": [d["id"] for d in discounts or []],
        "issuer": {"type": "self"},
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{inv_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            "type": "subscription_details",
        },
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "starting_balance": cus["balance"],
        "status": "draft",
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "total": total,
        "total_discount_amounts": discount_amounts,
        "total_excluding_tax": total,
    }
    fields.update(_settings())
    private = {"_sub": sub["id"]}
    return stripe_object(inv_id, "invoice", fields, INVOICE_NULLS, INVOICE_EMPTY_LISTS, private)


def _settings() -> Obj:
    """The nested settings every new invoice starts with."""
    return {
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
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
    lines = [invoice_line_object(st, inv_id, sub, s) for s in specs]
    discounts = active_discounts(st, sub, now)
    period = (period_start, period_end)
    inv = invoice_object(st, sub, cus, inv_id, lines, reason, period, discounts)
    if any(s["proration"] for s in specs):
        inv["parent"]["subscription_details"]["subscription_proration_date"] = min(
            s["start"] for s in specs if s["proration"]
        )
    st.add(inv)
    record_invoice_items(st, sub, specs, inv_id)
    last_lines = st.meta_of(sub["id"]).setdefault("last_line", {})
    for s, line in zip(specs, lines, strict=True):
        if not s["proration"] and s["amount"] > 0:
            last_lines[s["si"]] = (inv_id, line["id"])
    sub["latest_invoice"] = inv_id
    st.emit("invoice.created", inv)
    used_up(st, sub, inv)
    finalize_invoice(st, inv, cus)
    if inv["amount_due"] == 0:
        mark_paid(st, inv)
        return inv, "paid"
    if sub["collection_method"] == "send_invoice":
        inv["due_date"] = now + DAY * (sub["days_until_due"] or 30)
        st.emit("invoice.sent", inv)
        return inv, "open"
    if not attempt:
        return inv, "open"
    return inv, attempt_payment(st, inv)


def finalize_invoice(st: State, inv: Obj, cus: Obj) -> None:
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


def mark_paid(st: State, inv: Obj, *, out_of_band: bool = False) -> None:
    """Settle an invoice. Stripe sends invoice.payment_succeeded only when it collected the
    money itself; an invoice marked paid outside Stripe sends invoice.paid alone."""
    inv["status"] = "paid"
    inv["amount_paid"] = inv["amount_due"]
    inv["amount_remaining"] = 0
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["paid_at"] = st.now()
    st.save(inv)
    st.emit("invoice.paid", inv)
    if not out_of_band:
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
        mark_paid(st, inv)
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
        sync_status_after_payment(st, sub, inv, outcome)
    return outcome


def sync_status_after_payment(st: State, sub: Obj, inv: Obj, outcome: str) -> None:
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
        mark_paid(st, inv, out_of_band=True)
        sub = st.objects.get(inv["_sub"])
        if sub is not None:
            sync_status_after_payment(st, sub, inv, "paid")
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
