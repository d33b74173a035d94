from __future__ import annotations

# REST routes: subscription schedules.
from ._routing import Ctx, list_of, route
from ._store import Obj
from ._subscription_schedules import (
    cancel_schedule,
    create_schedule,
    release_schedule,
    update_schedule,
)


@route("POST", "/v1/subscription_schedules")
def schedules_create(ctx: Ctx) -> Obj:
    return create_schedule(ctx.state, ctx.params)


@route("GET", "/v1/subscription_schedules")
def schedules_list(ctx: Ctx) -> Obj:
    return list_of(
        ctx,
        "subscription_schedule",
        "/v1/subscription_schedules",
        {"canceled_at", "completed_at", "released_at", "scheduled", "customer_account"},
        {"customer": "customer"},
    )


@route("GET", "/v1/subscription_schedules/{id}")
def schedules_get(ctx: Ctx, sid: str) -> Obj:
    return ctx.state.get("subscription_schedule", sid)


@route("POST", "/v1/subscription_schedules/{id}")
def schedules_update(ctx: Ctx, sid: str) -> Obj:
    return update_schedule(ctx.state, ctx.state.get("subscription_schedule", sid), ctx.params)


@route("POST", "/v1/subscription_schedules/{id}/release")
def schedules_release(ctx: Ctx, sid: str) -> Obj:
    return release_schedule(ctx.state, ctx.state.get("subscription_schedule", sid), ctx.params)


@route("POST", "/v1/subscription_schedules/{id}/cancel")
def schedules_cancel(ctx: Ctx, sid: str) -> Obj:
    return cancel_schedule(ctx.state, ctx.state.get("subscription_schedule", sid), ctx.params)
