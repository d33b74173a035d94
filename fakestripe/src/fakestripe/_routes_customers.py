from __future__ import annotations

# REST routes: the account, customers and payment methods.
from collections.abc import Callable

from ._customers import create_customer, update_customer
from ._errors import StripeError, missing_param, no_such
from ._params import (
    Params,
    check_params,
    str_param,
)
from ._payment_methods import attach_pm, create_pm, detach_pm, resolve_pm, update_pm
from ._routing import Ctx, list_of, route, search
from ._store import Obj
from ._subscription_cancel import delete_customer


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
