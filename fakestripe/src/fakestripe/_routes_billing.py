from __future__ import annotations

# REST routes: subscriptions, subscription items, invoices, Checkout and portal sessions.
from collections.abc import Callable

from ._checkout import create_checkout_session, expire_session, line_items_of
from ._errors import invalid
from ._invoice_preview import preview_invoice
from ._invoices import mark_uncollectible, pay_invoice_api, void_invoice
from ._params import (
    apply_metadata,
    bool_param,
    check_params,
    choice_param,
    metadata_param,
    str_param,
)
from ._portal import create_portal_session
from ._portal_config import create_configuration, default_configuration, update_configuration
from ._routing import LIST_KEYS, Ctx, list_limit, list_of, route, search
from ._store import Obj
from ._subscription_cancel import cancel_api
from ._subscription_create import create_subscription
from ._subscription_update import create_item, delete_item, update_item, update_subscription


@route("POST", "/v1/subscriptions")
def subs_create(ctx: Ctx) -> Obj:
    return create_subscription(ctx.state, ctx.params)


@route("GET", "/v1/subscriptions")
def subs_list(ctx: Ctx) -> Obj:
    p = ctx.params
    status = choice_param(
        p,
        "status",
        (
            "active",
            "all",
            "canceled",
            "ended",
            "incomplete",
            "incomplete_expired",
            "past_due",
            "paused",
            "trialing",
            "unpaid",
        ),
    )
    p.pop("status", None)
    preds: list[Callable[[Obj], bool]] = []
    if status is None:
        preds.append(lambda o: o["status"] != "canceled")
    elif status == "ended":
        preds.append(lambda o: o["status"] in ("canceled", "incomplete_expired"))
    elif status != "all":
        preds.append(lambda o: o["status"] == status)
    if p.get("collection_method"):
        preds.append(lambda o: o["collection_method"] == p["collection_method"])
    if p.get("plan") and not p.get("price"):
        p["price"] = p.pop("plan")
    return list_of(
        ctx,
        "subscription",
        "/v1/subscriptions",
        {
            "collection_method",
            "plan",
            "test_clock",
            "automatic_tax",
            "current_period_end",
            "current_period_start",
        },
        {"customer": "customer", "price": "price"},
        lambda o: all(f(o) for f in preds),
    )


@route("GET", "/v1/subscriptions/search")
def subs_search(ctx: Ctx) -> Obj:
    return search(ctx, "subscription", "/v1/subscriptions/search", {"status", "created"})


@route("GET", "/v1/subscriptions/{id}")
def subs_get(ctx: Ctx, sid: str) -> Obj:
    return ctx.state.get("subscription", sid)


@route("POST", "/v1/subscriptions/{id}")
def subs_update(ctx: Ctx, sid: str) -> Obj:
    return update_subscription(ctx.state, ctx.state.get("subscription", sid), ctx.params)


@route("DELETE", "/v1/subscriptions/{id}")
def subs_cancel(ctx: Ctx, sid: str) -> Obj:
    return cancel_api(ctx.state, ctx.state.get("subscription", sid), ctx.params)


@route("POST", "/v1/subscription_items")
def items_create(ctx: Ctx) -> Obj:
    return create_item(ctx.state, ctx.params)


@route("GET", "/v1/subscription_items")
def items_list(ctx: Ctx) -> Obj:
    sub_id = str_param(ctx.params, "subscription", required=True)
    ctx.state.get("subscription", sub_id, "subscription")
    return list_of(
        ctx, "subscription_item", "/v1/subscription_items", set(), {"subscription": "subscription"}
    )


@route("GET", "/v1/subscription_items/{id}")
def items_get(ctx: Ctx, si: str) -> Obj:
    return ctx.state.get("subscription_item", si)


@route("POST", "/v1/subscription_items/{id}")
def items_update(ctx: Ctx, si: str) -> Obj:
    return update_item(ctx.state, ctx.state.get("subscription_item", si), ctx.params)


@route("DELETE", "/v1/subscription_items/{id}")
def items_delete(ctx: Ctx, si: str) -> Obj:
    return delete_item(ctx.state, ctx.state.get("subscription_item", si), ctx.params)


@route("GET", "/v1/invoices")
def invoices_list(ctx: Ctx) -> Obj:
    p = ctx.params
    status = choice_param(p, "status", ("draft", "open", "paid", "uncollectible", "void"))
    preds: list[Callable[[Obj], bool]] = []
    if status:
        preds.append(lambda o: o["status"] == status)
    if p.get("collection_method"):
        preds.append(lambda o: o["collection_method"] == p["collection_method"])
    return list_of(
        ctx,
        "invoice",
        "/v1/invoices",
        {"status", "collection_method", "due_date", "customer_account"},
        {"customer": "customer", "subscription": "subscription"},
        (lambda o: all(f(o) for f in preds)) if preds else None,
    )


@route("POST", "/v1/invoices/create_preview")
def invoices_preview(ctx: Ctx) -> Obj:
    return preview_invoice(ctx.state, ctx.params)


@route("GET", "/v1/invoices/{id}")
def invoices_get(ctx: Ctx, iid: str) -> Obj:
    return ctx.state.get("invoice", iid)


@route("POST", "/v1/invoices/{id}")
def invoices_update(ctx: Ctx, iid: str) -> Obj:
    inv = ctx.state.get("invoice", iid)
    check_params(ctx.params, {"metadata", "description", "footer"})
    before = ctx.state.snapshot(inv)
    apply_metadata(inv["metadata"], metadata_param(ctx.params))
    for key in ("description", "footer"):
        if key in ctx.params:
            inv[key] = str_param(ctx.params, key)
    ctx.state.emit_update("invoice.updated", inv, before)
    return inv


@route("POST", "/v1/invoices/{id}/pay")
def invoices_pay(ctx: Ctx, iid: str) -> Obj:
    return pay_invoice_api(ctx.state, ctx.state.get("invoice", iid), ctx.params)


@route("POST", "/v1/invoices/{id}/void")
def invoices_void(ctx: Ctx, iid: str) -> Obj:
    return void_invoice(ctx.state, ctx.state.get("invoice", iid))


@route("POST", "/v1/invoices/{id}/mark_uncollectible")
def invoices_uncollectible(ctx: Ctx, iid: str) -> Obj:
    return mark_uncollectible(ctx.state, ctx.state.get("invoice", iid))


@route("GET", "/v1/invoices/{id}/lines")
def invoices_lines(ctx: Ctx, iid: str) -> Obj:
    inv = ctx.state.get("invoice", iid)
    check_params(ctx.params, LIST_KEYS)
    lines: list[Obj] = inv["lines"]["data"]
    return _page_list(ctx, lines, f"/v1/invoices/{iid}/lines")


def _page_list(ctx: Ctx, items: list[Obj], url: str) -> Obj:
    """Paginate a small embedded list (kept in display order)."""
    p = ctx.params
    limit = list_limit(p)
    ids = [x["id"] for x in items]
    after, before = str_param(p, "starting_after"), str_param(p, "ending_before")
    if after is not None:
        if after not in ids:
            raise invalid(f"Invalid starting_after id: {after}", "starting_after")
        rest = items[ids.index(after) + 1 :]
        data, more = rest[:limit], len(rest) > limit
    elif before is not None:
        if before not in ids:
            raise invalid(f"Invalid ending_before id: {before}", "ending_before")
        rest = items[: ids.index(before)]
        data, more = rest[-limit:], len(rest) > limit
    else:
        data, more = items[:limit], len(items) > limit
    return {"object": "list", "data": data, "has_more": more, "url": url}


@route("POST", "/v1/checkout/sessions")
def checkout_create(ctx: Ctx) -> Obj:
    return create_checkout_session(ctx.state, ctx.params)


@route("GET", "/v1/checkout/sessions")
def checkout_list(ctx: Ctx) -> Obj:
    p = ctx.params
    status = choice_param(p, "status", ("open", "complete", "expired"))
    pred = (lambda o: o["status"] == status) if status else None
    return list_of(
        ctx,
        "checkout.session",
        "/v1/checkout/sessions",
        {"status", "payment_intent", "payment_link", "customer_details"},
        {"customer": "customer", "subscription": "subscription"},
        pred,
    )


@route("GET", "/v1/checkout/sessions/{id}")
def checkout_get(ctx: Ctx, cs: str) -> Obj:
    return ctx.state.get("checkout.session", cs)


@route("POST", "/v1/checkout/sessions/{id}/expire")
def checkout_expire(ctx: Ctx, cs: str) -> Obj:
    check_params(ctx.params, set())
    return expire_session(ctx.state, ctx.state.get("checkout.session", cs))


@route("GET", "/v1/checkout/sessions/{id}/line_items")
def checkout_line_items(ctx: Ctx, cs: str) -> Obj:
    session = ctx.state.get("checkout.session", cs)
    check_params(ctx.params, LIST_KEYS)
    return _page_list(
        ctx, line_items_of(ctx.state, session), f"/v1/checkout/sessions/{cs}/line_items"
    )


@route("POST", "/v1/billing_portal/sessions")
def portal_create(ctx: Ctx) -> Obj:
    return create_portal_session(ctx.state, ctx.params)


@route("POST", "/v1/billing_portal/configurations")
def portal_config_create(ctx: Ctx) -> Obj:
    return create_configuration(ctx.state, ctx.params)


@route("GET", "/v1/billing_portal/configurations")
def portal_config_list(ctx: Ctx) -> Obj:
    default_configuration(ctx.state)  # Stripe's account always has one
    p = ctx.params
    preds: list[Callable[[Obj], bool]] = []
    for key in ("active", "is_default"):
        flag = bool_param(p, key)
        if flag is not None:
            preds.append(lambda o, key=key, flag=flag: o[key] is flag)
    p.pop("active", None)
    p.pop("is_default", None)
    return list_of(
        ctx,
        "billing_portal.configuration",
        "/v1/billing_portal/configurations",
        pred=(lambda o: all(f(o) for f in preds)) if preds else None,
    )


@route("GET", "/v1/billing_portal/configurations/{id}")
def portal_config_get(ctx: Ctx, bpc: str) -> Obj:
    return ctx.state.get("billing_portal.configuration", bpc)


@route("POST", "/v1/billing_portal/configurations/{id}")
def portal_config_update(ctx: Ctx, bpc: str) -> Obj:
    config = ctx.state.get("billing_portal.configuration", bpc)
    return update_configuration(ctx.state, config, ctx.params)


@route("GET", "/v1/invoiceitems")
def invoice_items_list(ctx: Ctx) -> Obj:
    pending = bool_param(ctx.params, "pending")
    ctx.params.pop("pending", None)
    pred = None if pending is None else (lambda o: (o["invoice"] is None) is pending)
    return list_of(
        ctx,
        "invoiceitem",
        "/v1/invoiceitems",
        {"customer_account"},
        {"customer": "customer", "invoice": "invoice"},
        pred,
    )


@route("GET", "/v1/invoiceitems/{id}")
def invoice_items_get(ctx: Ctx, ii: str) -> Obj:
    return ctx.state.get("invoiceitem", ii)
