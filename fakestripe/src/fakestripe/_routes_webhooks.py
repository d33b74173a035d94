from __future__ import annotations

# REST routes: webhook endpoints, events, and the ``/_fake/...`` test controls.
import re
from collections.abc import Callable

from ._engine import State
from ._errors import StripeError, invalid, missing_param
from ._params import (
    Params,
    apply_metadata,
    bool_param,
    check_params,
    choice_param,
    decimal_param,
    int_param,
    list_param,
    metadata_param,
    new_metadata,
    str_param,
)
from ._routing import Ctx, list_of, route
from ._store import Obj, new_id
from ._webhooks import new_secret


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
    return {"object": "fake_webhooks", **ctx.fake.pending()}


@route("POST", "/_fake/wait_idle", locked=False)
def fake_wait_idle(ctx: Ctx) -> Obj:
    check_params(ctx.params, {"timeout"})
    timeout = float(decimal_param(ctx.params, "timeout") or 5)
    return {"object": "fake_webhooks", "idle": ctx.fake.wait_idle(timeout)}


@route("POST", "/_fake/reset", locked=False)
def fake_reset(ctx: Ctx) -> Obj:
    ctx.fake.reset()
    return {"object": "fake_reset", "ok": True}
