from __future__ import annotations

# The route table of the REST API and what list and search endpoints share. The routes
# themselves live in the ``_routes_*`` modules, one per group of resources.
import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._engine import INDEXES, KINDS, State, public
from ._errors import invalid, no_such
from ._params import (
    Params,
    check_params,
    created_filter,
    int_param,
    str_param,
)
from ._store import Obj
from ._webhooks import Delivery


class Controls(Protocol):
    """What the ``/_fake/...`` control routes drive: the delivery controls of ``FakeStripe``."""

    @property
    def deliveries(self) -> list[Delivery]: ...

    def hold(self) -> None: ...

    def release(self, order: str | None = None, seed: int | None = None) -> int: ...

    def reorder(self, mode: str | None, seed: int | None = None) -> None: ...

    def duplicate_next(self, n: int = 1) -> None: ...

    def pending(self) -> dict[str, int]: ...

    def wait_idle(self, timeout: float = 5.0) -> bool: ...

    def reset(self) -> None: ...


@dataclass
class Ctx:
    """One API request: the state, the fake's controls, the decoded params and ``expand[]``."""

    state: State
    fake: Controls
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


def list_limit(p: Params) -> int:
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


def field_is(key: str, value: Any) -> Callable[[Obj], bool]:
    return lambda o: o[key] == value


def recurring_is(key: str, value: Any) -> Callable[[Obj], bool]:
    return lambda o: bool(o["recurring"]) and o["recurring"][key] == value


def _coerce(value: Any) -> Any:
    if value in ("true", "false"):
        return value == "true"
    return value


def _require_customer(st: State, cus_id: Any) -> None:
    """Stripe answers a list filtered by a customer it never had with resource_missing, not
    an empty list (a deleted customer's objects can still be listed)."""
    if isinstance(cus_id, str) and (cus_id in st.deleted or st.colls["customer"].get(cus_id)):
        return
    raise no_such("customer", str(cus_id), "customer")


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
    limit = list_limit(p)
    coll = st.colls[kind]
    preds: list[Callable[[Obj], bool]] = [] if pred is None else [pred]
    cand = None
    for param, fieldname in indexed.items():
        raw = p.get(param)
        if raw is None or raw == "":
            continue
        value = _coerce(raw)
        if param == "customer" and kind != "customer":
            _require_customer(st, value)
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

    limit = list_limit(p)
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
