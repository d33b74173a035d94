from __future__ import annotations

# The hosted Customer Portal page and its form actions.
from ._catalog import price_label, product_name
from ._engine import State
from ._errors import StripeError
from ._html import (
    Page,
    card_fields,
    esc,
    layout,
    not_found,
    page_message,
    parse_card,
    redirect,
    status_pill,
)
from ._invoice_lines import items_of
from ._portal import (
    portal_cancel,
    portal_change_plan,
    portal_renew,
    portal_update_card,
    session_configuration,
)
from ._portal_config import plan_choices, quantity_limits
from ._store import Obj
from ._timeutil import fmt_date, fmt_money


def portal_page(
    st: State, bps_id: str, error: str | None = None, status: int = 200, notice: str | None = None
) -> Page:
    session = st.colls["billing_portal.session"].get(bps_id)
    if session is None:
        return not_found("This portal session does not exist.")
    cus = st.objects.get(session["customer"])
    if cus is None:
        return not_found("This customer no longer exists.")
    name = st.account["settings"]["dashboard"]["display_name"]
    base = f"/p/session/{bps_id}"
    back = (
        f'<a href="{esc(session["return_url"])}" id=return>&larr; Return to {esc(name)}</a>'
        if session["return_url"]
        else esc(name)
    )
    subs = [
        st.objects[oid]
        for oid in reversed(st.colls["subscription"].candidates("customer", cus["id"]))
        if st.objects[oid]["status"] not in ("canceled", "incomplete_expired")
    ]
    config = session_configuration(st, session)
    blocks = [_subscription_block(st, sub, config, base) for sub in subs]
    if not blocks:
        blocks.append("<div class=card><p class=muted>No active subscriptions.</p></div>")
    pm_line = _payment_method_line(st, cus, subs)
    inv_rows = _invoice_rows(st, cus)
    err_html = f"<div class=error id=error role=alert>{esc(error)}</div>" if error else ""
    note_html = f"<div class=notice id=notice>{esc(notice)}</div>" if notice else ""
    body = (
        "<div class=wrap><div class=col style='flex:0 1 260px'>"
        f"<div class=brand>{back}<span class=tag>TEST MODE</span></div>"
        f"<p class=muted>{esc(name)} partners with Stripe for simplified billing.</p>"
        f"<p><b>{esc(cus['name'] or '')}</b><br><span class=muted>{esc(cus['email'] or '')}"
        "</span></p></div><div class=col>"
        f"{err_html}{note_html}<h3>Current plan</h3>{''.join(blocks)}"
        f"<h3>Payment method</h3><div class=card><div>{pm_line}</div>"
        f'<form method=post action="{base}/payment_method">{card_fields(cus["name"] or "")}'
        "<button type=submit class=secondary>Update payment method</button></form></div>"
        f"<h3>Invoice history</h3><div class=card><table>{inv_rows or '<tr><td>None</td></tr>'}"
        "</table></div></div></div>"
    )
    return layout(f"{name} — Billing", body, status)


def _subscription_block(st: State, sub: Obj, config: Obj, base: str) -> str:
    """One subscription on the portal page: plan, renewal or cancellation, change of plan."""
    item = items_of(sub)[0]
    price = item["price"]
    end = item["current_period_end"]
    sub_base = f"{base}/subscriptions/{esc(sub['id'])}"
    if sub["cancel_at_period_end"] or sub["cancel_at"]:
        when = f"Cancels {fmt_date(sub['cancel_at'] or end)}"
        action = (
            f'<form class=inline method=post action="{sub_base}/renew">'
            "<button type=submit class=secondary name=renew>Renew plan</button></form>"
        )
    else:
        label = "Trial ends" if sub["status"] == "trialing" else "Renews"
        when = f"{label} {fmt_date(end)}"
        # Cancelling goes through a confirmation page, as on Stripe's portal.
        enabled = config["features"]["subscription_cancel"]["enabled"]
        action = (
            f'<a class=danger href="{sub_base}/cancel" id=cancel>Cancel plan</a>' if enabled else ""
        )
    return (
        f'<div class=card id="sub-{esc(sub["id"])}"><div style="display:flex;'
        'justify-content:space-between;align-items:center"><div>'
        f"<b>{esc(product_name(st, price))}</b> {status_pill(sub['status'])}"
        f"<div class=muted>{esc(price_label(st, price))} · {esc(when)}</div></div>"
        f"{action}</div>{_update_form(st, item, config, sub_base)}</div>"
    )


def _update_form(st: State, item: Obj, config: Obj, sub_base: str) -> str:
    """Change of plan and, for a per-seat price the configuration allows it for, of quantity."""
    price = item["price"]
    choices = plan_choices(st, config, price)
    limits = quantity_limits(config, price)
    if len(choices) < 2 and limits is None:
        return ""
    options = "".join(
        f'<option value="{esc(p["id"])}"{" selected" if p["id"] == price["id"] else ""}>'
        f"{esc(product_name(st, p))} — {esc(price_label(st, p))}</option>"
        for p in choices
    )
    plan = (
        f"<div><label>Change plan</label><select name=price>{options}</select></div>"
        if len(choices) > 1
        else f'<input type=hidden name=price value="{esc(price["id"])}">'
    )
    quantity = ""
    if limits is not None:
        low, high = limits
        top = f" max={high}" if high is not None else ""
        quantity = (
            "<div style='flex:0 0 110px'><label for=quantity>Quantity</label>"
            f"<input id=quantity name=quantity type=number min={low}{top} "
            f'value="{esc(item["quantity"])}" inputmode=numeric></div>'
        )
    return (
        f'<form method=post action="{sub_base}/update"><div class=row>{plan}{quantity}</div>'
        "<button type=submit class=secondary>Update plan</button></form>"
    )


def cancel_confirm_page(st: State, bps_id: str, sub_id: str) -> Page:
    """The confirmation step before a cancellation; its button posts the cancellation."""
    session = st.colls["billing_portal.session"].get(bps_id)
    sub = st.colls["subscription"].get(sub_id)
    if session is None or sub is None or sub["customer"] != session["customer"]:
        return not_found("This subscription does not exist.")
    name = st.account["settings"]["dashboard"]["display_name"]
    base = f"/p/session/{esc(bps_id)}"
    item = items_of(sub)[0]
    config = session_configuration(st, session)
    immediately = config["features"]["subscription_cancel"]["mode"] == "immediately"
    ends = (
        "Your subscription will be canceled immediately."
        if immediately
        else f"Your subscription will be canceled, but is still available until the end of "
        f"your billing period on {fmt_date(item['current_period_end'])}."
    )
    body = (
        "<div class=wrap><div class=col>"
        f'<div class=brand><a href="{base}" id=back>&larr; {esc(name)}</a>'
        "<span class=tag>TEST MODE</span></div></div><div class=col><div class=card>"
        f"<h2>Cancel your plan</h2><p><b>{esc(product_name(st, item['price']))}</b> "
        f"<span class=muted>{esc(price_label(st, item['price']))}</span></p>"
        f"<p class=muted>{esc(ends)}</p>"
        f'<form method=post action="{base}/subscriptions/{esc(sub_id)}/cancel">'
        "<button type=submit class=danger id=confirm>Cancel plan</button></form>"
        f'<p><a href="{base}">Go back</a></p></div></div></div>'
    )
    return layout(f"{name} — Cancel plan", body)


def _payment_method_line(st: State, cus: Obj, subs: list[Obj]) -> str:
    """The customer's default card, or a subscription's."""
    pm_id = cus["invoice_settings"]["default_payment_method"]
    pm = st.objects.get(pm_id) if pm_id else None
    if pm is None:
        for sub in subs:
            if sub["default_payment_method"]:
                pm = st.objects.get(sub["default_payment_method"])
                break
    return (
        f"{esc(pm['card']['brand'].title())} •••• {esc(pm['card']['last4'])} "
        f"<span class=muted>Expires {pm['card']['exp_month']:02d}/{pm['card']['exp_year']}</span>"
        if pm
        else "<span class=muted>No payment method on file.</span>"
    )


def _invoice_rows(st: State, cus: Obj) -> str:
    """The customer's ten latest invoices as table rows."""
    invoices = [
        st.objects[oid] for oid in reversed(st.colls["invoice"].candidates("customer", cus["id"]))
    ][:10]
    return "".join(
        f"<tr><td>{esc(fmt_date(i['created']))}</td><td>"
        f'<a href="{esc(i["hosted_invoice_url"])}">{esc(i["number"])}</a></td>'
        f"<td>{status_pill(i['status'] or 'draft')}</td>"
        f"<td class=r>{esc(fmt_money(i['total'], i['currency']))}</td></tr>"
        for i in invoices
    )


def portal_action(
    st: State, bps_id: str, action: str, sub_id: str | None, form: dict[str, str]
) -> Page:
    session = st.colls["billing_portal.session"].get(bps_id)
    if session is None:
        return not_found("This portal session does not exist.")
    base = f"/p/session/{bps_id}"
    try:
        if action == "payment_method":
            card, exp = parse_card(st, form)
            portal_update_card(st, session, card, exp, form.get("billing_name") or None)
        elif sub_id is None:
            return not_found("Unknown portal action.")
        elif action == "cancel":
            portal_cancel(st, session, sub_id)
        elif action == "renew":
            portal_renew(st, session, sub_id)
        elif action == "update":
            qty_raw = (form.get("quantity") or "").strip()
            qty = int(qty_raw) if qty_raw.isdigit() else None
            portal_change_plan(st, session, sub_id, form.get("price", ""), qty)
        else:
            return not_found("Unknown portal action.")
    except StripeError as err:
        code = 422 if err.type == "card_error" else 400
        return portal_page(st, bps_id, page_message(err), code)
    return redirect(base)
