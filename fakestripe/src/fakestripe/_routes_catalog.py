from __future__ import annotations

# REST routes: products, prices, billing meters and meter events.
from collections.abc import Callable

from ._catalog import create_price, create_product, delete_product, update_price, update_product
from ._errors import invalid
from ._meters import (
    create_meter,
    create_meter_event,
    event_summaries,
    set_meter_status,
    update_meter,
)
from ._params import (
    choice_param,
    dict_param,
    list_param,
)
from ._routing import Ctx, field_is, list_of, recurring_is, route, search
from ._store import Obj


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
            preds.append(field_is(key, p[key]))
    rec = dict_param(p, "recurring")
    if rec:
        for k in ("interval", "usage_type", "meter"):
            if rec.get(k):
                preds.append(recurring_is(k, rec[k]))
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
