from __future__ import annotations

# Invoice items of prorations (/v1/invoiceitems, read-only): a proration creates one, pending
# (``invoice`` null) until an invoice takes it — at once with ``always_invoice``, else the
# subscription's next invoice.
from ._engine import State
from ._store import Obj, stripe_object


def invoice_item_object(st: State, sub: Obj, spec: Obj) -> Obj:
    """The invoice item of a proration line ``spec`` (see ``pending_line``)."""
    price = spec["price"]
    credited = spec["credited"]
    fields: Obj = {
        "amount": spec["amount"],
        "currency": price["currency"],
        "customer": sub["customer"],
        "date": st.now(),
        "description": spec["description"],
        "discountable": spec["discountable"],
        "discounts": (),
        "livemode": False,
        "metadata": {},
        "net_amount": spec["amount"],
        "parent": {
            "subscription_details": {"subscription": sub["id"], "subscription_item": spec["si"]},
            "type": "subscription_details",
        },
        "period": {"end": spec["end"], "start": spec["start"]},
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "proration": True,
        "proration_details": {
            "credited_items": _credited(credited) if credited else None,
            "discount_amounts": (),
        },
        "quantity": spec["quantity"] or 1,
        "quantity_decimal": str(spec["quantity"] or 1),
    }
    nulls = "customer_account invoice test_clock"
    # tax_rates: an empty list, as Stripe sends (clients such as dj-stripe iterate it).
    return stripe_object(spec["invoice_item"], "invoiceitem", fields, nulls, "tax_rates")


def _credited(credited: Obj) -> Obj:
    return {
        "invoice_item": None,
        "invoice_line_item_details": {
            "invoice": credited["invoice"],
            "invoice_line_items": list(credited["invoice_line_items"]),
        },
        "type": "invoice_line_items",
    }


def record_invoice_items(st: State, sub: Obj, specs: list[Obj], invoice: str | None) -> None:
    """Make (or find) the invoice items of the proration lines in ``specs``; with an
    ``invoice``, they now belong to it."""
    for spec in specs:
        if not spec["invoice_item"]:
            continue
        item = st.colls["invoiceitem"].get(spec["invoice_item"])
        if item is None:
            item = st.add(invoice_item_object(st, sub, spec))
            st.emit("invoiceitem.created", item)
        if invoice is not None and item["invoice"] is None:
            item["invoice"] = invoice
            st.save(item)
