from __future__ import annotations

# REST routes: coupons and promotion codes.
from ._discounts import (
    create_coupon,
    create_promotion_code,
    delete_coupon,
    update_coupon,
    update_promotion_code,
)
from ._routing import Ctx, list_of, route
from ._store import Obj


@route("POST", "/v1/coupons")
def coupons_create(ctx: Ctx) -> Obj:
    return create_coupon(ctx.state, ctx.params)


@route("GET", "/v1/coupons")
def coupons_list(ctx: Ctx) -> Obj:
    return list_of(ctx, "coupon", "/v1/coupons")


@route("GET", "/v1/coupons/{id}")
def coupons_get(ctx: Ctx, cid: str) -> Obj:
    return ctx.state.get("coupon", cid)


@route("POST", "/v1/coupons/{id}")
def coupons_update(ctx: Ctx, cid: str) -> Obj:
    return update_coupon(ctx.state, ctx.state.get("coupon", cid), ctx.params)


@route("DELETE", "/v1/coupons/{id}")
def coupons_delete(ctx: Ctx, cid: str) -> Obj:
    return delete_coupon(ctx.state, ctx.state.get("coupon", cid))


@route("POST", "/v1/promotion_codes")
def promotion_codes_create(ctx: Ctx) -> Obj:
    return create_promotion_code(ctx.state, ctx.params)


@route("GET", "/v1/promotion_codes")
def promotion_codes_list(ctx: Ctx) -> Obj:
    if isinstance(ctx.params.get("code"), str):
        ctx.params["code"] = ctx.params["code"].lower()  # codes match case-insensitively
    return list_of(
        ctx,
        "promotion_code",
        "/v1/promotion_codes",
        {"customer_account"},
        {"active": "active", "code": "code", "coupon": "coupon", "customer": "customer"},
    )


@route("GET", "/v1/promotion_codes/{id}")
def promotion_codes_get(ctx: Ctx, pid: str) -> Obj:
    return ctx.state.get("promotion_code", pid)


@route("POST", "/v1/promotion_codes/{id}")
def promotion_codes_update(ctx: Ctx, pid: str) -> Obj:
    return update_promotion_code(ctx.state, ctx.state.get("promotion_code", pid), ctx.params)
