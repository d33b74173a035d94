from __future__ import annotations

# The HTML of the hosted pages: layout and style, card form, card parsing, 3DS page, PDF.
import html
import re
from dataclasses import dataclass, field

from ._cards import HINTS, TestCard, lookup_number
from ._engine import State
from ._errors import StripeError
from ._payment_methods import validate_expiry
from ._timeutil import fmt_money


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
a.danger{color:#df1b41;border:1px solid #f5c2cf;border-radius:6px;padding:8px 14px;
font-size:14px;font-weight:600;text-decoration:none}
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


CARD_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*$")


def parse_card(st: State, form: dict[str, str]) -> tuple[TestCard, tuple[int, int]]:
    card = lookup_number(form.get("card_number", ""))
    m = CARD_EXPIRY.match(form.get("card_expiry", ""))
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


def status_pill(status: str) -> str:
    cls = {
        "active": "ok",
        "trialing": "ok",
        "past_due": "warn",
        "incomplete": "warn",
        "unpaid": "bad",
        "canceled": "bad",
    }.get(status, "")
    return f'<span class="pill {cls}">{esc(status.replace("_", " "))}</span>'


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
