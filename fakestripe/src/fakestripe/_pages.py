from __future__ import annotations

# Server-rendered hosted pages: Checkout, Customer Portal and hosted invoices.
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ._cards import AUTH_FAILED_MESSAGE, HINTS, TestCard, lookup_number
from ._catalog import price_label, product_name
from ._engine import State
from ._errors import StripeError
from ._invoice_lines import items_of
from ._payment_methods import validate_expiry
from ._sessions import (
    checkout_preflight,
    complete_checkout,
    line_items_of,
    needs_card,
    pay_invoice_on_page,
    portal_cancel,
    portal_change_plan,
    portal_renew,
    portal_update_card,
    success_redirect,
)
from ._store import Obj
from ._timeutil import fmt_date, fmt_money


@dataclass
class Page:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"


def redirect(url: str) -> Page:
    return Page(303, b"", {"Location": url})


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",
Roboto,Helvetica,Arial,sans-serif;color:#1a1f36;background:#f6f9fc}
.wrap{max-width:980px;margin:0 auto;padding:40px 24px;display:flex;gap:48px;flex-wrap:wrap}
.col{flex:1 1 380px}.brand{font-weight:600;color:#4f46e5;margin-bottom:24px}
.muted{color:#697386}.big{font-size:36px;font-weight:600;margin:4px 0 16px}
.card{background:#fff;border-radius:10px;box-shadow:0 2px 5px rgba(60,66,87,.08),
0 1px 1px rgba(0,0,0,.12);padding:24px;margin-bottom:20px}
label{display:block;font-size:13px;font-weight:500;color:#3c4257;margin:14px 0 6px}
input,select{width:100%;padding:10px 12px;border:1px solid #d5dbe1;border-radius:6px;
font-size:15px;background:#fff}input:focus,select:focus{outline:2px solid #a5b4fc}
.row{display:flex;gap:12px}.row>div{flex:1}
button{width:100%;margin-top:20px;padding:12px;border:0;border-radius:6px;background:#4f46e5;
color:#fff;font-size:16px;font-weight:600;cursor:pointer}
button.secondary{background:#fff;color:#4f46e5;border:1px solid #c7d2fe}
button.danger{background:#fff;color:#df1b41;border:1px solid #f5c2cf}
.inline button{width:auto;margin:0;padding:8px 14px;font-size:14px}
.error{background:#fdecef;color:#a41c4e;border-radius:6px;padding:10px 12px;margin:12px 0}
.notice{background:#eef2ff;color:#3730a3;border-radius:6px;padding:10px 12px;margin:12px 0}
.hint{font-size:13px;background:#fffbea;border:1px solid #fce7a0;border-radius:6px;
padding:10px 12px;margin-top:18px}.hint code{font-size:12px}
table{width:100%;border-collapse:collapse}td{padding:8px 0;border-bottom:1px solid #eef1f5}
td.r{text-align:right}.pill{display:inline-block;font-size:12px;padding:2px 8px;
border-radius:10px;background:#e3e8ee;color:#3c4257}.pill.ok{background:#d7f7c2;color:#05690d}
.pill.warn{background:#fcedb9;color:#a82c00}.pill.bad{background:#ffe7f2;color:#b3093c}
a{color:#4f46e5}.test{position:fixed;top:0;left:0;right:0;height:4px;background:#ff9f1a}
.tag{font-size:11px;font-weight:700;color:#b25f00;background:#fff3d6;padding:2px 6px;
border-radius:4px;margin-left:8px;vertical-align:middle}
"""


def layout(title: str, body: str, status: int = 200) -> Page:
    doc = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<div class=test></div>{body}</body></html>"
    )
    return Page(status, doc.encode())


def not_found(what: str) -> Page:
    body = (
        "<div class=wrap><div class=col><div class=card><h2>Not found</h2>"
        f"<p class=muted>{esc(what)}</p></div></div></div>"
    )
    return layout("Not found", body, 404)


def card_fields(prefill_name: str = "") -> str:
    hints = "".join(f"<div><code>{esc(n)}</code> — {esc(d)}</div>" for n, d in HINTS)
    return (
        "<label for=card_number>Card information</label>"
        "<input id=card_number name=card_number inputmode=numeric autocomplete=cc-number "
        'placeholder="1234 1234 1234 1234">'
        "<div class=row><div><label for=card_expiry>Expiry</label>"
        '<input id=card_expiry name=card_expiry placeholder="MM / YY" autocomplete=cc-exp>'
        "</div><div><label for=card_cvc>CVC</label>"
        "<input id=card_cvc name=card_cvc placeholder=CVC autocomplete=cc-csc></div></div>"
        "<label for=billing_name>Name on card</label>"
        f'<input id=billing_name name=billing_name value="{esc(prefill_name)}" '
        "autocomplete=cc-name>"
        "<label for=postal_code>ZIP</label>"
        "<input id=postal_code name=postal_code autocomplete=postal-code>"
        f"<div class=hint><b>Test mode.</b> Any future expiry and any CVC. {hints}</div>"
    )


_EXP = re.compile(r"^\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*$")


def parse_card(st: State, form: dict[str, str]) -> tuple[TestCard, tuple[int, int]]:
    card = lookup_number(form.get("card_number", ""))
    m = _EXP.match(form.get("card_expiry", ""))
    if not m:
        raise StripeError(
            402,
            "Your card's expiration date is incomplete.",
            type="card_error",
            code="incomplete_expiry",
            param="exp_month",
        )
    month, year = int(m.group(1)), int(m.group(2))
    year = year + 2000 if year < 100 else year
    validate_expiry(st, month, year)
    cvc = form.get("card_cvc", "").strip()
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        raise StripeError(
            402,
            "Your card's security code is incomplete.",
            type="card_error",
            code="incomplete_cvc",
            param="cvc",
        )
    return card, (month, year)


def page_message(err: StripeError) -> str:
    if err.decline_code == "generic_decline":
        return "Your card has been declined."
    return err.message


# ------------------------------------------------------------------------------ checkout


def _summary(st: State, session: Obj) -> str:
    meta = st.meta_of(session["id"])
    rows = []
    for li in line_items_of(st, session):
        price = li["price"]
        qty = li["quantity"]
        label = price_label(st, price)
        qty_txt = f"Qty {qty} · " if qty not in (None, 1) else ""
        amount = fmt_money(li["amount_subtotal"], li["currency"])
        rows.append(
            f"<tr><td>{esc(product_name(st, price))}<div class=muted>{esc(qty_txt)}"
            f"{esc(label)}</div></td><td class=r>{esc(amount)}</td></tr>"
        )
    first = line_items_of(st, session)[0]["price"]
    interval = first["recurring"]["interval"]
    trial = meta["trial_days"] or (
        (meta["trial_end"] - session["created"]) // 86400 if meta["trial_end"] else 0
    )
    headline = fmt_money(meta["subtotal"], session["currency"])
    lead = (
        f"<div class=muted>{esc(trial)} days free</div>"
        f"<div class=big>Then {esc(headline)} <span class=muted style='font-size:16px'>per "
        f"{esc(interval)}</span></div>"
        if trial
        else f"<div class=muted>Subscribe</div><div class=big>{esc(headline)} "
        f"<span class=muted style='font-size:16px'>per {esc(interval)}</span></div>"
    )
    due = fmt_money(session["amount_total"], session["currency"])
    total = f"<tr><td><b>Total due today</b></td><td class=r><b>{esc(due)}</b></td></tr>"
    return f"{lead}<table>{''.join(rows)}{total}</table>"


def checkout_page(st: State, cs_id: str, error: str | None = None, status: int = 200) -> Page:
    session = st.colls["checkout.session"].get(cs_id)
    if session is None:
        return not_found("This Checkout Session does not exist.")
    name = st.account["settings"]["dashboard"]["display_name"]
    if session["status"] != "open":
        state = "complete" if session["status"] == "complete" else "expired"
        link = ""
        if state == "complete" and session["success_url"]:
            link = f'<p><a href="{esc(success_redirect(session))}">Continue</a></p>'
        elif session["cancel_url"]:
            link = f'<p><a href="{esc(session["cancel_url"])}">Return to {esc(name)}</a></p>'
        msg = "Thanks for your order" if state == "complete" else "This checkout session expired"
        body = (
            f"<div class=wrap><div class=col><div class=brand>{esc(name)}<span class=tag>TEST "
            f"MODE</span></div><div class=card><h2>{esc(msg)}</h2>{link}</div></div></div>"
        )
        return layout(msg, body, 200)
    cancel = (
        f'<a href="{esc(session["cancel_url"])}" id=cancel>&larr; Back to {esc(name)}</a>'
        if session["cancel_url"]
        else ""
    )
    email = session["customer_email"] or (session["customer_details"] or {}).get("email") or ""
    email_field = (
        f"<label for=email>Email</label><input id=email name=email type=email "
        f'value="{esc(email)}"{" readonly" if session["customer"] else ""}>'
    )
    card_needed = needs_card(st, session)
    fields = (
        card_fields()
        if card_needed
        else (
            "<div class=notice>No payment method required during the trial.</div>"
            "<label for=billing_name>Name</label><input id=billing_name name=billing_name>"
        )
    )
    err_html = f"<div class=error id=error role=alert>{esc(error)}</div>" if error else ""
    button = "Start trial" if session["amount_total"] == 0 else "Subscribe"
    body = (
        "<div class=wrap><div class=col>"
        f"<div class=brand>{cancel or esc(name)}<span class=tag>TEST MODE</span></div>"
        f"{_summary(st, session)}</div>"
        "<div class=col><div class=card>"
        f'<form method=post action="/c/pay/{esc(cs_id)}" id=payment-form>{err_html}'
        f"{email_field}{fields}<button type=submit id=submit>{button}</button></form>"
        "</div></div></div>"
    )
    return layout(f"{name} — Checkout", body, status)


def checkout_submit(st: State, cs_id: str, form: dict[str, str]) -> Page:
    session = st.colls["checkout.session"].get(cs_id)
    if session is None:
        return not_found("This Checkout Session does not exist.")
    if session["status"] != "open":
        return checkout_page(st, cs_id)
    email = (form.get("email") or "").strip() or None
    if session["customer"] is None and not (email or session["customer_email"]):
        return checkout_page(st, cs_id, "Your email address is incomplete.", 422)
    card: TestCard | None = None
    exp: tuple[int, int] | None = None
    try:
        if needs_card(st, session) or form.get("card_number"):
            card, exp = parse_card(st, form)
        decision = checkout_preflight(st, session, card)
    except StripeError as err:
        return checkout_page(st, cs_id, page_message(err), 422)
    pending = {
        "card": card,
        "exp": exp,
        "email": email,
        "name": (form.get("billing_name") or "").strip() or None,
        "postal": (form.get("postal_code") or "").strip() or None,
    }
    if decision == "3ds":
        st.meta_of(cs_id)["pending_3ds"] = pending
        return three_ds_page(f"/c/pay/{cs_id}/3ds", session["amount_total"], session["currency"])
    return _finish_checkout(st, session, pending)


def _finish_checkout(st: State, session: Obj, pending: Mapping[str, object]) -> Page:
    card = pending["card"]
    exp = pending["exp"]
    complete_checkout(
        st,
        session,
        card if isinstance(card, TestCard) else None,
        pending["email"] if isinstance(pending["email"], str) else None,
        pending["name"] if isinstance(pending["name"], str) else None,
        exp if isinstance(exp, tuple) else None,
        pending["postal"] if isinstance(pending["postal"], str) else None,
    )
    target = success_redirect(session)
    if target is None:
        return checkout_page(st, session["id"])
    return redirect(target)


def three_ds_page(action: str, amount: int, currency: str) -> Page:
    body = (
        '<div class=wrap><div class=col style="max-width:460px;margin:0 auto"><div class=card>'
        "<h2>3D Secure 2 Test Page</h2><p class=muted>This is a test authentication page for a "
        f"payment of <b>{esc(fmt_money(amount, currency))}</b>. Complete or fail the "
        "authentication.</p>"
        f'<form method=post action="{esc(action)}"><input type=hidden name=decision '
        "value=complete><button type=submit id=complete>Complete</button></form>"
        f'<form method=post action="{esc(action)}"><input type=hidden name=decision value=fail>'
        "<button type=submit class=danger id=fail>Fail</button></form>"
        "</div></div></div>"
    )
    return layout("Authenticate payment", body)


def checkout_3ds(st: State, cs_id: str, form: dict[str, str]) -> Page:
    session = st.colls["checkout.session"].get(cs_id)
    if session is None:
        return not_found("This Checkout Session does not exist.")
    pending = st.meta_of(cs_id).pop("pending_3ds", None)
    if session["status"] != "open" or pending is None:
        return checkout_page(st, cs_id)
    if form.get("decision") != "complete":
        return checkout_page(st, cs_id, AUTH_FAILED_MESSAGE, 422)
    return _finish_checkout(st, session, pending)


# -------------------------------------------------------------------------------- portal


def _status_pill(status: str) -> str:
    cls = {
        "active": "ok",
        "trialing": "ok",
        "past_due": "warn",
        "incomplete": "warn",
        "unpaid": "bad",
        "canceled": "bad",
    }.get(status, "")
    return f'<span class="pill {cls}">{esc(status.replace("_", " "))}</span>'


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
    prices = [
        p
        for p in reversed(list(st.colls["price"].by_id.values()))
        if p["active"] and p["recurring"] is not None and p["recurring"]["usage_type"] == "licensed"
    ]
    blocks = []
    for sub in subs:
        item = items_of(sub)[0]
        price = item["price"]
        end = item["current_period_end"]
        if sub["cancel_at_period_end"] or sub["cancel_at"]:
            when = f"Cancels {fmt_date(sub['cancel_at'] or end)}"
            action = (
                f'<form class=inline method=post action="{base}/subscriptions/{sub["id"]}/renew">'
                "<button type=submit class=secondary name=renew>Renew plan</button></form>"
            )
        else:
            label = "Trial ends" if sub["status"] == "trialing" else "Renews"
            when = f"{label} {fmt_date(end)}"
            action = (
                f'<form class=inline method=post action="{base}/subscriptions/{sub["id"]}/cancel">'
                "<button type=submit class=danger name=cancel>Cancel plan</button></form>"
            )
        options = "".join(
            f'<option value="{esc(p["id"])}"{" selected" if p["id"] == price["id"] else ""}>'
            f"{esc(product_name(st, p))} — {esc(price_label(st, p))}</option>"
            for p in prices
            if p["currency"] == price["currency"]
        )
        qty = item["quantity"] if item["quantity"] is not None else ""
        blocks.append(
            f'<div class=card id="sub-{esc(sub["id"])}"><div style="display:flex;'
            'justify-content:space-between;align-items:center"><div>'
            f"<b>{esc(product_name(st, price))}</b> {_status_pill(sub['status'])}"
            f"<div class=muted>{esc(price_label(st, price))} · {esc(when)}</div></div>"
            f"{action}</div>"
            f'<form method=post action="{base}/subscriptions/{sub["id"]}/update">'
            f"<div class=row><div><label>Change plan</label><select name=price>{options}"
            "</select></div><div style='flex:0 0 110px'><label>Quantity</label>"
            f'<input name=quantity value="{esc(qty)}" inputmode=numeric></div></div>'
            "<button type=submit class=secondary>Update plan</button></form></div>"
        )
    if not blocks:
        blocks.append("<div class=card><p class=muted>No active subscriptions.</p></div>")
    pm_id = cus["invoice_settings"]["default_payment_method"]
    pm = st.objects.get(pm_id) if pm_id else None
    if pm is None:
        for sub in subs:
            if sub["default_payment_method"]:
                pm = st.objects.get(sub["default_payment_method"])
                break
    pm_line = (
        f"{esc(pm['card']['brand'].title())} •••• {esc(pm['card']['last4'])} "
        f"<span class=muted>Expires {pm['card']['exp_month']:02d}/{pm['card']['exp_year']}</span>"
        if pm
        else "<span class=muted>No payment method on file.</span>"
    )
    invoices = [
        st.objects[oid] for oid in reversed(st.colls["invoice"].candidates("customer", cus["id"]))
    ][:10]
    inv_rows = "".join(
        f"<tr><td>{esc(fmt_date(i['created']))}</td><td>"
        f'<a href="{esc(i["hosted_invoice_url"])}">{esc(i["number"])}</a></td>'
        f"<td>{_status_pill(i['status'] or 'draft')}</td>"
        f"<td class=r>{esc(fmt_money(i['total'], i['currency']))}</td></tr>"
        for i in invoices
    )
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


# ------------------------------------------------------------------------------ invoices


def invoice_page(st: State, in_id: str, error: str | None = None, status: int = 200) -> Page:
    inv = st.colls["invoice"].get(in_id)
    if inv is None or inv["status"] == "draft":
        return not_found("This invoice does not exist.")
    name = st.account["settings"]["dashboard"]["display_name"]
    rows = "".join(
        f"<tr><td>{esc(line['description'])}<div class=muted>"
        f"{esc(fmt_date(line['period']['start']))} – {esc(fmt_date(line['period']['end']))}"
        f"</div></td><td class=r>{esc(fmt_money(line['amount'], line['currency']))}</td></tr>"
        for line in inv["lines"]["data"]
    )
    pay = ""
    if inv["status"] == "open" and inv["amount_remaining"] > 0:
        err_html = f"<div class=error id=error role=alert>{esc(error)}</div>" if error else ""
        remaining = fmt_money(inv["amount_remaining"], inv["currency"])
        pay = (
            f'<div class=card><form method=post action="/i/{esc(in_id)}">{err_html}'
            f"{card_fields(inv['customer_name'] or '')}"
            f"<button type=submit id=submit>Pay {esc(remaining)}</button></form></div>"
        )
    body = (
        "<div class=wrap><div class=col>"
        f"<div class=brand>{esc(name)}<span class=tag>TEST MODE</span></div>"
        f"<div class=muted>Invoice {esc(inv['number'])} {_status_pill(inv['status'])}</div>"
        f"<div class=big>{esc(fmt_money(inv['amount_due'], inv['currency']))}</div>"
        f"<p class=muted>Billed to {esc(inv['customer_email'] or '')}</p>"
        f'<p><a href="/i/{esc(in_id)}/pdf">Download invoice</a></p></div>'
        f"<div class=col><div class=card><table>{rows}"
        f"<tr><td><b>Total</b></td><td class=r><b>{esc(fmt_money(inv['total'], inv['currency']))}"
        f"</b></td></tr></table></div>{pay}</div></div>"
    )
    return layout(f"Invoice {inv['number']}", body, status)


def invoice_submit(st: State, in_id: str, form: dict[str, str]) -> Page:
    inv = st.colls["invoice"].get(in_id)
    if inv is None:
        return not_found("This invoice does not exist.")
    if inv["status"] != "open":
        return invoice_page(st, in_id)
    try:
        card, exp = parse_card(st, form)
        if card.attach_error is not None:
            raise card.attach_error.error()
        if card.charge_error is not None:
            raise card.charge_error.error()
    except StripeError as err:
        return invoice_page(st, in_id, page_message(err), 422)
    pending = {"card": card, "exp": exp, "name": form.get("billing_name") or None}
    if card.auth != "none":
        st.meta_of(in_id)["pending_3ds"] = pending
        return three_ds_page(f"/i/{in_id}/3ds", inv["amount_remaining"], inv["currency"])
    pay_invoice_on_page(st, inv, card, exp, form.get("billing_name") or None, False)
    return redirect(f"/i/{in_id}")


def invoice_3ds(st: State, in_id: str, form: dict[str, str]) -> Page:
    inv = st.colls["invoice"].get(in_id)
    if inv is None:
        return not_found("This invoice does not exist.")
    pending = st.meta_of(in_id).pop("pending_3ds", None)
    if pending is None or inv["status"] != "open":
        return invoice_page(st, in_id)
    if form.get("decision") != "complete":
        return invoice_page(st, in_id, AUTH_FAILED_MESSAGE, 422)
    pay_invoice_on_page(st, inv, pending["card"], pending["exp"], pending["name"], True)
    return redirect(f"/i/{in_id}")


def invoice_pdf(st: State, in_id: str) -> Page:
    inv = st.colls["invoice"].get(in_id)
    if inv is None or inv["status"] == "draft":
        return not_found("This invoice does not exist.")
    lines = [
        f"Invoice {inv['number']}",
        f"{st.account['settings']['dashboard']['display_name']} (test mode)",
        f"Billed to: {inv['customer_email'] or ''}",
        f"Date: {fmt_date(inv['created'])}   Status: {inv['status']}",
        "",
    ]
    for line in inv["lines"]["data"]:
        lines.append(f"{line['description']}   {fmt_money(line['amount'], line['currency'])}")
    lines += [
        "",
        f"Total: {fmt_money(inv['total'], inv['currency'])}",
        f"Amount due: {fmt_money(inv['amount_due'], inv['currency'])}",
    ]
    return Page(200, make_pdf(lines), content_type="application/pdf")


def make_pdf(lines: list[str]) -> bytes:
    """A tiny single-page PDF with one line of Helvetica text per entry."""

    def pdf_str(text: str) -> str:
        safe = text.encode("latin-1", "replace").decode("latin-1")
        return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 12 Tf", "14 TL", "56 780 Td"]
    for text in lines:
        ops.append(f"({pdf_str(text)}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def index_page(st: State) -> Page:
    body = (
        "<div class=wrap><div class=col><div class=card><h2>fakestripe</h2>"
        "<p class=muted>An offline fake of the Stripe API for development and tests. "
        "API at <code>/v1</code>; hosted Checkout at <code>/c/pay/&lt;session&gt;</code>; "
        "portal at <code>/p/session/&lt;session&gt;</code>.</p></div></div></div>"
    )
    return layout("fakestripe", body)


PageHandler = Callable[..., Page]

PAGE_ROUTES: list[tuple[str, re.Pattern[str], PageHandler]] = [
    ("GET", re.compile(r"^/$"), lambda st, form: index_page(st)),
    ("GET", re.compile(r"^/c/pay/([^/]+)$"), lambda st, form, cs: checkout_page(st, cs)),
    ("POST", re.compile(r"^/c/pay/([^/]+)$"), lambda st, form, cs: checkout_submit(st, cs, form)),
    ("POST", re.compile(r"^/c/pay/([^/]+)/3ds$"), lambda st, form, cs: checkout_3ds(st, cs, form)),
    ("GET", re.compile(r"^/p/session/([^/]+)$"), lambda st, form, bps: portal_page(st, bps)),
    (
        "POST",
        re.compile(r"^/p/session/([^/]+)/subscriptions/([^/]+)/(cancel|renew|update)$"),
        lambda st, form, bps, sub, action: portal_action(st, bps, action, sub, form),
    ),
    (
        "POST",
        re.compile(r"^/p/session/([^/]+)/payment_method$"),
        lambda st, form, bps: portal_action(st, bps, "payment_method", None, form),
    ),
    ("GET", re.compile(r"^/i/([^/]+)$"), lambda st, form, inv: invoice_page(st, inv)),
    ("POST", re.compile(r"^/i/([^/]+)$"), lambda st, form, inv: invoice_submit(st, inv, form)),
    ("POST", re.compile(r"^/i/([^/]+)/3ds$"), lambda st, form, inv: invoice_3ds(st, inv, form)),
    ("GET", re.compile(r"^/i/([^/]+)/pdf$"), lambda st, form, inv: invoice_pdf(st, inv)),
]
