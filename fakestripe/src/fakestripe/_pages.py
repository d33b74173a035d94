from __future__ import annotations

# Server-rendered hosted pages: Checkout, Customer Portal and hosted invoices.
import re
from collections.abc import Callable, Mapping

from ._cards import AUTH_FAILED_MESSAGE, TestCard
from ._catalog import price_label, product_name
from ._checkout import (
    apply_promotion_code,
    checkout_preflight,
    complete_checkout,
    line_items_of,
    needs_card,
    success_redirect,
)
from ._engine import State
from ._errors import StripeError
from ._html import (
    Page,
    card_fields,
    esc,
    layout,
    make_pdf,
    not_found,
    page_message,
    parse_card,
    redirect,
    status_pill,
    three_ds_page,
)
from ._pages_portal import cancel_confirm_page, portal_action, portal_page
from ._portal import pay_invoice_on_page
from ._store import Obj
from ._timeutil import fmt_date, fmt_money

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
    off = session["total_details"]["amount_discount"]
    if session["discounts"]:
        # Nothing is due during a trial, so nothing is taken off today: the code still shows
        # as applied, with what it takes off the paid invoices.
        taken = f"−{fmt_money(off, session['currency'])}" if off else _coupon_terms(st, session)
        rows.append(
            f"<tr id=discount><td>{esc(_discount_label(st, session))}</td>"
            f"<td class=r>{esc(taken)}</td></tr>"
        )
    due = fmt_money(session["amount_total"], session["currency"])
    total = f"<tr><td><b>Total due today</b></td><td class=r><b>{esc(due)}</b></td></tr>"
    return f"{lead}<table>{''.join(rows)}{total}</table>{_promotion_box(session)}"


def _discount_label(st: State, session: Obj) -> str:
    entry = session["discounts"][0]
    if entry["promotion_code"]:
        return f"{st.objects[entry['promotion_code']]['code']} applied"
    coupon = st.objects.get(entry["coupon"] or "")
    return (coupon or {}).get("name") or "Discount"


def _coupon_terms(st: State, session: Obj) -> str:
    """What the applied coupon takes off once paying starts: "20% off", "$5.00 off"."""
    coupon, _ = st.meta_of(session["id"])["grants"][0]  # set with the session's discounts
    if coupon["percent_off"]:
        return f"{coupon['percent_off']:g}% off"
    return f"{fmt_money(coupon['amount_off'], coupon['currency'])} off"


def _promotion_box(session: Obj) -> str:
    """The promotion code box (``allow_promotion_codes``), until a code is applied."""
    if not session["allow_promotion_codes"] or session["discounts"]:
        return ""
    return (
        f'<form method=post action="/c/pay/{esc(session["id"])}/promotion_code" '
        "id=promotion-form class=row><div><label for=promotion_code>Promotion code</label>"
        "<input id=promotion_code name=promotion_code autocomplete=off></div>"
        "<div style='flex:0 0 100px'><button type=submit class=secondary>Apply</button>"
        "</div></form>"
    )


def checkout_promotion_code(st: State, cs_id: str, form: dict[str, str]) -> Page:
    """The promotion code box's Apply: back to the page, now showing the discount."""
    session = st.colls["checkout.session"].get(cs_id)
    if session is None:
        return not_found("This Checkout Session does not exist.")
    try:
        apply_promotion_code(st, session, form.get("promotion_code") or "")
    except StripeError as err:
        return checkout_page(st, cs_id, err.message, 422)
    return redirect(f"/c/pay/{cs_id}")


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
    code = (form.get("promotion_code") or "").strip()
    if code and not session["discounts"]:
        try:
            apply_promotion_code(st, session, code)
        except StripeError as err:
            return checkout_page(st, cs_id, err.message, 422)
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
        f"<div class=muted>Invoice {esc(inv['number'])} {status_pill(inv['status'])}</div>"
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
    (
        "POST",
        re.compile(r"^/c/pay/([^/]+)/promotion_code$"),
        lambda st, form, cs: checkout_promotion_code(st, cs, form),
    ),
    ("GET", re.compile(r"^/p/session/([^/]+)$"), lambda st, form, bps: portal_page(st, bps)),
    (
        "GET",
        re.compile(r"^/p/session/([^/]+)/subscriptions/([^/]+)/cancel$"),
        lambda st, form, bps, sub: cancel_confirm_page(st, bps, sub),
    ),
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
