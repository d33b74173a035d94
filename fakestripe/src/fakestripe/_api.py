from __future__ import annotations

# REST routes of the fake: ``/v1/...`` resources and ``/_fake/...`` test controls.
import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._catalog import create_price, create_product, delete_product, update_price, update_product
from ._customers import create_customer, update_customer
from ._engine import INDEXES, KINDS, State, public
from ._errors import StripeError, invalid, missing_param, no_such
from ._invoices import mark_uncollectible, pay_invoice_api, void_invoice
from ._meters import (
    create_meter,
    create_meter_event,
    event_summaries,
    set_meter_status,
    update_meter,
)
from ._params import (
    Params,
    apply_metadata,
    bool_param,
    check_params,
    choice_param,
    created_filter,
    decimal_param,
    dict_param,
    int_param,
    list_param,
    metadata_param,
    new_metadata,
    str_param,
)
from ._payment_methods import attach_pm, create_pm, detach_pm, resolve_pm, update_pm
from ._sessions import create_checkout_session, create_portal_session, expire_session, line_items_of
from ._store import Obj, new_id
from ._subscription_cancel import cancel_api, delete_customer
from ._subscription_create import create_subscription
from ._subscription_update import create_item, delete_item, update_item, update_subscription
from ._webhooks import new_secret

if TYPE_CHECKING:
    from .server import FakeStripe


@dataclass
class Ctx:
    state: State
    fake: FakeStripe
    params: Params
    expand: list[str] = field(default_factory=list)


Handler = Callable[..., Any]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    locked: bool = True


ROUTES: list[Route] = []


def route(method: str, path: str, locked: bool = True) -> Callable[[Handler], Handler]:
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"([^/]+)", path) + "$")

    def deco(fn: Handler) -> Handler:
        ROUTES.append(Route(method, regex, fn, locked))
        return fn

    return deco


def match(method: str, path: str) -> tuple[Route, tuple[str, ...]] | None:
    for r in ROUTES:
        if r.method == method:
            m = r.pattern.match(path)
            if m:
                return r, m.groups()
    return None


# --------------------------------------------------------------------------------- lists

LIST_KEYS = {"limit", "starting_after", "ending_before", "created"}


def _limit(p: Params) -> int:
    limit = int_param(p, "limit")
    if limit is None:
        return 10
    if not 1 <= limit <= 100:
        raise invalid(
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            "limit",
        )
    return limit


def _indexed_is(fn: Callable[[Obj], Iterable[Any]], value: Any) -> Callable[[Obj], bool]:
    return lambda o: value in tuple(fn(o))


def _field_is(key: str, value: Any) -> Callable[[Obj], bool]:
    return lambda o: o[key] == value


def _recurring_is(key: str, value: Any) -> Callable[[Obj], bool]:
    return lambda o: bool(o["recurring"]) and o["recurring"][key] == value


def _coerce(value: Any) -> Any:
    if value in ("true", "false"):
        return value == "true"
    return value


def list_of(
    ctx: Ctx,
    kind: str,
    url: str,
    allowed: Iterable[str] = (),
    indexed: dict[str, str] | None = None,
    pred: Callable[[Obj], bool] | None = None,
) -> Obj:
    """Generic Stripe list endpoint over one collection."""
    st, p = ctx.state, ctx.params
    indexed = indexed or {}
    check_params(p, set(allowed) | LIST_KEYS | set(indexed))
    limit = _limit(p)
    coll = st.colls[kind]
    preds: list[Callable[[Obj], bool]] = [] if pred is None else [pred]
    cand = None
    for param, fieldname in indexed.items():
        raw = p.get(param)
        if raw is None or raw == "":
            continue
        value = _coerce(raw)
        if cand is None:
            cand = coll.candidates(fieldname, value)
        else:
            preds.append(_indexed_is(INDEXES[kind][fieldname], value))
    bounds = created_filter(p)
    if bounds is not None:
        lo, hi = bounds
        preds.append(
            lambda o: (lo is None or o["created"] >= lo) and (hi is None or o["created"] <= hi)
        )
    combined = None
    if preds:

        def combined(o: Obj) -> bool:
            return all(f(o) for f in preds)

    data, more = coll.page(
        cand,
        combined,
        limit,
        str_param(p, "starting_after"),
        str_param(p, "ending_before"),
        KINDS[kind],
    )
    return {"object": "list", "data": [public(o) for o in data], "has_more": more, "url": url}


_QUERY_CLAUSE = re.compile(
    r"""\s*(?:(metadata)\[['"]([^'"]+)['"]\]|(\w+))\s*(:|~|>=|<=|>|<)\s*(?:'([^']*)'|"([^"]*)"|(-?\d+))\s*"""
)


def search(ctx: Ctx, kind: str, url: str, fields: set[str]) -> Obj:
    """Stripe's search query language (subset): ``a:'x' AND metadata['k']:'v'``."""
    p = ctx.params
    check_params(p, {"query", "limit", "page"})
    query = str_param(p, "query", required=True)
    assert query is not None
    joiner = " OR " if " OR " in query else " AND "
    clauses = []
    for part in query.split(joiner):
        m = _QUERY_CLAUSE.fullmatch(part)
        if not m:
            raise invalid(f"Invalid query: {query}", "query", "parameter_invalid")
        meta_key, fieldname = m.group(2), m.group(3)
        if fieldname is not None and fieldname not in fields:
            raise invalid(f"Field `{fieldname}` is not supported in search queries.", "query")
        value = next(g for g in (m.group(5), m.group(6), m.group(7)) if g is not None)
        clauses.append((meta_key, fieldname, m.group(4), value))

    def ok(o: Obj) -> bool:
        results = []
        for meta_key, fieldname, op, value in clauses:
            source = o.get("metadata") or {} if meta_key else o
            actual = source.get(meta_key or fieldname or "")
            if op == ":":
                results.append(actual is not None and str(actual).lower() == value.lower())
            elif op == "~":
                results.append(actual is not None and value.lower() in str(actual).lower())
            else:
                try:
                    a, b = float(actual), float(value)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    results.append(False)
                    continue
                results.append({">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op])
        return any(results) if joiner == " OR " else all(results)

    limit = _limit(p)
    after = None
    page = str_param(p, "page")
    if page is not None:
        try:
            after = base64.urlsafe_b64decode(page.encode()).decode()
        except ValueError:
            raise invalid("Invalid page token.", "page") from None
    data, more = ctx.state.colls[kind].page(None, ok, limit, after, None, KINDS[kind])
    next_page = (
        base64.urlsafe_b64encode(data[-1]["id"].encode()).decode() if more and data else None
    )
    return {
        "object": "search_result",
        "data": [public(o) for o in data],
        "has_more": more,
        "next_page": next_page,
        "url": url,
    }


# ------------------------------------------------------------------------------- account


@route("GET", "/v1/account")
def get_account(ctx: Ctx) -> Obj:
    return ctx.state.account


@route("GET", "/v1/accounts")
def accounts_list(ctx: Ctx) -> Obj:
    """Connected accounts of the platform: a plain (non-Connect) account has none."""
    return ctx.state.list_response("/v1/accounts", [], False)


@route("GET", "/v1/accounts/{id}")
def get_account_by_id(ctx: Ctx, acct: str) -> Obj:
    if acct != ctx.state.account["id"]:
        raise StripeError(
            403 if acct.startswith("acct_") else 404,
            f"The provided key does not have access to account '{acct}' (or that account does "
            "not exist). Application access may have been revoked.",
            type="invalid_request_error",
            code="account_invalid",
        )
    return ctx.state.account


# ----------------------------------------------------------------------------- customers


@route("POST", "/v1/customers")
def customers_create(ctx: Ctx) -> Obj:
    return create_customer(ctx.state, ctx.params)


@route("GET", "/v1/customers")
def customers_list(ctx: Ctx) -> Obj:
    return list_of(ctx, "customer", "/v1/customers", {"test_clock"}, {"email": "email"})


@route("GET", "/v1/customers/search")
def customers_search(ctx: Ctx) -> Obj:
    return search(
        ctx,
        "customer",
        "/v1/customers/search",
        {"email", "name", "phone", "created", "description"},
    )


def _customer(ctx: Ctx, cus_id: str) -> Obj:
    return ctx.state.get("customer", cus_id)


@route("GET", "/v1/customers/{id}")
def customers_get(ctx: Ctx, cus_id: str) -> Obj:
    stub = ctx.state.deleted.get(cus_id)
    if stub is not None and stub.get("object") == "customer":
        return stub
    return _customer(ctx, cus_id)


@route("POST", "/v1/customers/{id}")
def customers_update(ctx: Ctx, cus_id: str) -> Obj:
    return update_customer(ctx.state, _customer(ctx, cus_id), ctx.params)


@route("DELETE", "/v1/customers/{id}")
def customers_delete(ctx: Ctx, cus_id: str) -> Obj:
    return delete_customer(ctx.state, _customer(ctx, cus_id))


@route("GET", "/v1/customers/{id}/payment_methods")
def customers_pms(ctx: Ctx, cus_id: str) -> Obj:
    _customer(ctx, cus_id)
    ctx.params["customer"] = cus_id
    return list_of(
        ctx,
        "payment_method",
        f"/v1/customers/{cus_id}/payment_methods",
        {"type", "allow_redisplay"},
        {"customer": "customer"},
        _pm_type(ctx.params),
    )


@route("GET", "/v1/customers/{id}/payment_methods/{pm}")
def customers_pm(ctx: Ctx, cus_id: str, pm_id: str) -> Obj:
    _customer(ctx, cus_id)
    pm = ctx.state.get("payment_method", pm_id)
    if pm["customer"] != cus_id:
        raise no_such("PaymentMethod", pm_id)
    return pm


def _pm_type(p: Params) -> Callable[[Obj], bool] | None:
    ptype = p.get("type")
    if not ptype:
        return None
    return lambda o: o["type"] == ptype


# ------------------------------------------------------------------------ payment methods


@route("POST", "/v1/payment_methods")
def pms_create(ctx: Ctx) -> Obj:
    return create_pm(ctx.state, ctx.params)


@route("GET", "/v1/payment_methods")
def pms_list(ctx: Ctx) -> Obj:
    if not ctx.params.get("customer"):
        raise missing_param("customer")
    return list_of(
        ctx,
        "payment_method",
        "/v1/payment_methods",
        {"type", "allow_redisplay"},
        {"customer": "customer"},
        _pm_type(ctx.params),
    )


@route("GET", "/v1/payment_methods/{id}")
def pms_get(ctx: Ctx, pm_id: str) -> Obj:
    return ctx.state.get("payment_method", pm_id)


@route("POST", "/v1/payment_methods/{id}")
def pms_update(ctx: Ctx, pm_id: str) -> Obj:
    return update_pm(ctx.state, ctx.state.get("payment_method", pm_id), ctx.params)


@route("POST", "/v1/payment_methods/{id}/attach")
def pms_attach(ctx: Ctx, pm_id: str) -> Obj:
    check_params(ctx.params, {"customer"}, {"customer_account"})
    cus_id = str_param(ctx.params, "customer", required=True)
    cus = ctx.state.get("customer", cus_id, "customer")
    pm = resolve_pm(ctx.state, pm_id, "payment_method", create=True)
    return attach_pm(ctx.state, pm, cus)


@route("POST", "/v1/payment_methods/{id}/detach")
def pms_detach(ctx: Ctx, pm_id: str) -> Obj:
    check_params(ctx.params, set())
    return detach_pm(ctx.state, ctx.state.get("payment_method", pm_id))


# ------------------------------------------------------------------------------ products


@route("POST", "/v1/products")
def products_create(ctx: Ctx) -> Obj:
    return create_product(ctx.state, ctx.params)


@route("GET", "/v1/products")
def products_list(ctx: Ctx) -> Obj:
    ids = list_param(ctx.params, "ids")
    pred = None if ids is None else (lambda o: o["id"] in ids)
    return list_of(
        ctx,
        "product",
        "/v1/products",
        {"ids", "shippable", "type", "url"},
        {"active": "active"},
        pred,
    )


@route("GET", "/v1/products/search")
def products_search(ctx: Ctx) -> Obj:
    return search(
        ctx, "product", "/v1/products/search", {"active", "name", "description", "created", "url"}
    )


@route("GET", "/v1/products/{id}")
def products_get(ctx: Ctx, pid: str) -> Obj:
    return ctx.state.get("product", pid)


@route("GET", "/v1/products/{id}/features")
def products_features(ctx: Ctx, pid: str) -> Obj:
    """Entitlement features attached to a product (dj-stripe syncs them): none here."""
    ctx.state.get("product", pid)  # 404 for an unknown product
    return ctx.state.list_response(f"/v1/products/{pid}/features", [], False)


@route("POST", "/v1/products/{id}")
def products_update(ctx: Ctx, pid: str) -> Obj:
    return update_product(ctx.state, ctx.state.get("product", pid), ctx.params)


@route("DELETE", "/v1/products/{id}")
def products_delete(ctx: Ctx, pid: str) -> Obj:
    return delete_product(ctx.state, ctx.state.get("product", pid))


# -------------------------------------------------------------------------------- prices


@route("POST", "/v1/prices")
def prices_create(ctx: Ctx) -> Obj:
    return create_price(ctx.state, ctx.params)


@route("GET", "/v1/prices")
def prices_list(ctx: Ctx) -> Obj:
    p = ctx.params
    preds: list[Callable[[Obj], bool]] = []
    keys = list_param(p, "lookup_keys")
    if keys is not None:
        preds.append(lambda o: o["lookup_key"] in keys)
    for key in ("currency", "type"):
        if p.get(key):
            preds.append(_field_is(key, p[key]))
    rec = dict_param(p, "recurring")
    if rec:
        for k in ("interval", "usage_type", "meter"):
            if rec.get(k):
                preds.append(_recurring_is(k, rec[k]))
    if keys is not None and len(keys) > 10:
        raise invalid("You can pass at most 10 lookup keys.", "lookup_keys")
    pred = (lambda o: all(f(o) for f in preds)) if preds else None
    return list_of(
        ctx,
        "price",
        "/v1/prices",
        {"currency", "lookup_keys", "recurring", "type"},
        {"product": "product", "active": "active"},
        pred,
    )


@route("GET", "/v1/prices/search")
def prices_search(ctx: Ctx) -> Obj:
    return search(
        ctx,
        "price",
        "/v1/prices/search",
        {"active", "currency", "lookup_key", "product", "type", "created"},
    )


@route("GET", "/v1/prices/{id}")
def prices_get(ctx: Ctx, pid: str) -> Obj:
    return ctx.state.get("price", pid)


@route("POST", "/v1/prices/{id}")
def prices_update(ctx: Ctx, pid: str) -> Obj:
    return update_price(ctx.state, ctx.state.get("price", pid), ctx.params)


# ------------------------------------------------------------------------- subscriptions


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


# ------------------------------------------------------------------------------ invoices


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
    raise StripeError(
        400,
        "fakestripe does not implement invoice previews (/v1/invoices/create_preview).",
        code="parameter_unknown",
    )


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
    limit = _limit(p)
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


# ------------------------------------------------------------------------------ checkout


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


# -------------------------------------------------------------------------------- meters


@route("POST", "/v1/billing/meters")
def meters_create(ctx: Ctx) -> Obj:
    return create_meter(ctx.state, ctx.params)


@route("GET", "/v1/billing/meters")
def meters_list(ctx: Ctx) -> Obj:
    status = choice_param(ctx.params, "status", ("active", "inactive"))
    pred = (lambda o: o["status"] == status) if status else None
    return list_of(ctx, "billing.meter", "/v1/billing/meters", {"status"}, None, pred)


@route("GET", "/v1/billing/meters/{id}")
def meters_get(ctx: Ctx, mid: str) -> Obj:
    return ctx.state.get("billing.meter", mid)


@route("POST", "/v1/billing/meters/{id}")
def meters_update(ctx: Ctx, mid: str) -> Obj:
    return update_meter(ctx.state, ctx.state.get("billing.meter", mid), ctx.params)


@route("POST", "/v1/billing/meters/{id}/deactivate")
def meters_deactivate(ctx: Ctx, mid: str) -> Obj:
    return set_meter_status(ctx.state, ctx.state.get("billing.meter", mid), False)


@route("POST", "/v1/billing/meters/{id}/reactivate")
def meters_reactivate(ctx: Ctx, mid: str) -> Obj:
    return set_meter_status(ctx.state, ctx.state.get("billing.meter", mid), True)


@route("GET", "/v1/billing/meters/{id}/event_summaries")
def meters_summaries(ctx: Ctx, mid: str) -> Obj:
    meter = ctx.state.get("billing.meter", mid)
    data, more = event_summaries(ctx.state, meter, ctx.params)
    return {
        "object": "list",
        "data": data,
        "has_more": more,
        "url": f"/v1/billing/meters/{mid}/event_summaries",
    }


@route("POST", "/v1/billing/meter_events")
def meter_events_create(ctx: Ctx) -> Obj:
    return create_meter_event(ctx.state, ctx.params)


# ------------------------------------------------------------------ webhook endpoints


@route("POST", "/v1/webhook_endpoints")
def endpoints_create(ctx: Ctx) -> Obj:
    return create_endpoint(ctx.state, ctx.params)


_EVENT_NAME = re.compile(r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$")


def _enabled_events(p: Params) -> list[str]:
    events = list_param(p, "enabled_events")
    if not events:
        raise missing_param("enabled_events")
    for n, name in enumerate(events):
        if not isinstance(name, str) or not _EVENT_NAME.match(name):
            raise invalid(f"Invalid event type: {name}", f"enabled_events[{n}]")
    return [str(e) for e in events]


def _url(p: Params) -> str:
    url = str_param(p, "url", required=True)
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise invalid("Invalid URL: URL must be publicly accessible.", "url", "url_invalid")
    return url


def create_endpoint(st: State, p: Params, secret: str | None = None) -> Obj:
    check_params(p, {"url", "enabled_events", "description", "metadata", "api_version", "connect"})
    if bool_param(p, "connect"):
        raise StripeError(
            400,
            "fakestripe does not implement Connect webhook endpoints.",
            param="connect",
            code="parameter_unknown",
        )
    ep: Obj = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": str_param(p, "api_version"),
        "application": None,
        "created": st.now(),
        "description": str_param(p, "description"),
        "enabled_events": _enabled_events(p),
        "livemode": False,
        "metadata": new_metadata(metadata_param(p)),
        "status": "enabled",
        "url": _url(p),
    }
    st.add(ep)
    st.webhook_secrets[ep["id"]] = secret or new_secret()
    out = dict(ep)
    out["secret"] = st.webhook_secrets[ep["id"]]
    return out


@route("GET", "/v1/webhook_endpoints")
def endpoints_list(ctx: Ctx) -> Obj:
    return list_of(ctx, "webhook_endpoint", "/v1/webhook_endpoints")


@route("GET", "/v1/webhook_endpoints/{id}")
def endpoints_get(ctx: Ctx, wid: str) -> Obj:
    return ctx.state.get("webhook_endpoint", wid)


@route("POST", "/v1/webhook_endpoints/{id}")
def endpoints_update(ctx: Ctx, wid: str) -> Obj:
    st, p = ctx.state, ctx.params
    ep = st.get("webhook_endpoint", wid)
    check_params(p, {"url", "enabled_events", "description", "metadata", "disabled"})
    if "url" in p:
        ep["url"] = _url(p)
    if "enabled_events" in p:
        ep["enabled_events"] = _enabled_events(p)
    if "description" in p:
        ep["description"] = str_param(p, "description")
    if "disabled" in p:
        ep["status"] = "disabled" if bool_param(p, "disabled") else "enabled"
    apply_metadata(ep["metadata"], metadata_param(p))
    return ep


@route("DELETE", "/v1/webhook_endpoints/{id}")
def endpoints_delete(ctx: Ctx, wid: str) -> Obj:
    ep = ctx.state.get("webhook_endpoint", wid)
    ctx.state.remove(ep)
    ctx.state.webhook_secrets.pop(wid, None)
    return {"id": wid, "object": "webhook_endpoint", "deleted": True}


# -------------------------------------------------------------------------------- events


@route("GET", "/v1/events")
def events_list(ctx: Ctx) -> Obj:
    p = ctx.params
    etype = str_param(p, "type")
    types = list_param(p, "types")
    if etype and types:
        raise invalid("You may only specify one of these parameters: type, types.", "types")
    pred: Callable[[Obj], bool] | None = None
    if etype and "*" in etype:
        prefix = etype.rstrip("*")
        pred = lambda o: o["type"].startswith(prefix)  # noqa: E731
        p.pop("type")
    elif types:
        wanted = set(types)
        pred = lambda o: o["type"] in wanted  # noqa: E731
    return list_of(
        ctx, "event", "/v1/events", {"types", "delivery_success"}, {"type": "type"}, pred
    )


@route("GET", "/v1/events/{id}")
def events_get(ctx: Ctx, eid: str) -> Obj:
    return ctx.state.get("event", eid)


# ----------------------------------------------------------------------- test controls


@route("GET", "/_fake/now")
def fake_now(ctx: Ctx) -> Obj:
    return {"object": "fake_clock", "now": ctx.state.now()}


@route("GET", "/_fake/stats")
def fake_stats(ctx: Ctx) -> Obj:
    st = ctx.state
    counts = {name: len(coll) for name, coll in st.colls.items()}
    return {"object": "fake_stats", "objects": len(st.objects), "by_type": counts}


@route("POST", "/_fake/advance")
def fake_advance(ctx: Ctx) -> Obj:
    p = ctx.params
    check_params(p, {"seconds", "minutes", "hours", "days"})
    total = (int_param(p, "seconds") or 0) + 60 * (int_param(p, "minutes") or 0)
    total += 3600 * (int_param(p, "hours") or 0) + 86400 * (int_param(p, "days") or 0)
    if total < 0:
        raise invalid("The fake clock only moves forward.", "seconds")
    return {"object": "fake_clock", "now": ctx.state.advance(total)}


@route("POST", "/_fake/hold", locked=False)
def fake_hold(ctx: Ctx) -> Obj:
    ctx.fake.hold()
    return {"object": "fake_webhooks", "held": True}


@route("POST", "/_fake/release", locked=False)
def fake_release(ctx: Ctx) -> Obj:
    check_params(ctx.params, {"order", "seed"})
    order = choice_param(ctx.params, "order", ("reverse", "shuffle", "none"))
    n = ctx.fake.release(order=order, seed=int_param(ctx.params, "seed"))
    return {"object": "fake_webhooks", "released": n}


@route("POST", "/_fake/reorder", locked=False)
def fake_reorder(ctx: Ctx) -> Obj:
    check_params(ctx.params, {"mode", "seed"})
    mode = choice_param(ctx.params, "mode", ("reverse", "shuffle", "none"))
    ctx.fake.reorder(mode, seed=int_param(ctx.params, "seed"))
    return {"object": "fake_webhooks", "reorder": mode}


@route("POST", "/_fake/duplicate_next", locked=False)
def fake_duplicate(ctx: Ctx) -> Obj:
    check_params(ctx.params, {"n"})
    n = int_param(ctx.params, "n", minimum=0)
    ctx.fake.duplicate_next(1 if n is None else n)
    return {"object": "fake_webhooks", "duplicate_next": 1 if n is None else n}


@route("GET", "/_fake/deliveries", locked=False)
def fake_deliveries(ctx: Ctx) -> Obj:
    data = [d.as_dict() for d in ctx.fake.deliveries]
    return {"object": "list", "data": data, "has_more": False, "url": "/_fake/deliveries"}


@route("GET", "/_fake/pending", locked=False)
def fake_pending(ctx: Ctx) -> Obj:
    return {"object": "fake_webhooks", **ctx.fake.dispatcher.pending()}


@route("POST", "/_fake/wait_idle", locked=False)
def fake_wait_idle(ctx: Ctx) -> Obj:
    check_params(ctx.params, {"timeout"})
    timeout = float(decimal_param(ctx.params, "timeout") or 5)
    return {"object": "fake_webhooks", "idle": ctx.fake.wait_idle(timeout)}


@route("POST", "/_fake/reset", locked=False)
def fake_reset(ctx: Ctx) -> Obj:
    ctx.fake.reset()
    return {"object": "fake_reset", "ok": True}
