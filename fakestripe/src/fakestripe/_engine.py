from __future__ import annotations

# Core state: storage, fake clock, events, expansion and scheduled work.
import copy
import heapq
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ._errors import StripeError, invalid, no_such
from ._store import Collection, Obj, new_id

API_VERSION = "2026-05-27.dahlia"

#: The account's name when none is given: neutral, as the hosted pages show it to end users.
DEFAULT_ACCOUNT_NAME = "Test account"

DueHandler = Callable[["State", str, int], None]
Includable = Callable[["State", Obj], Any]


class Publisher(Protocol):
    def publish(self, event: Obj, targets: list[tuple[str, str, str]]) -> None: ...


def jcopy(value: Any) -> Any:
    """Deep copy of JSON-like data (much faster than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {k: jcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jcopy(v) for v in value]
    return value


def diff(before: Obj, after: Obj) -> Obj:
    """Stripe-style ``previous_attributes``: old values of changed top-level keys."""
    prev: Obj = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key == "metadata" and isinstance(old, dict) and isinstance(new, dict):
            prev[key] = {k: old.get(k) for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        else:
            prev[key] = old
    return prev


def statement_descriptor(name: str) -> str:
    """Stripe's rules for a statement descriptor: 5 to 22 Latin letters, digits, spaces and
    a few signs, no ``<>\\'"*``; shown in capitals."""
    cleaned = " ".join(
        "".join(c for c in name if c.isascii() and (c.isalnum() or c in " .-")).split()
    )
    cleaned = cleaned.upper()[:22].strip()
    return cleaned if len(cleaned) >= 5 else "TEST ACCOUNT"


class Clock:
    """Wall clock plus an offset; can be pinned while processing scheduled work."""

    def __init__(self) -> None:
        self.offset = 0
        self.pinned: int | None = None

    def now(self) -> int:
        if self.pinned is not None:
            return self.pinned
        return int(time.time()) + self.offset


# Object type -> the name used in "No such ..." errors.
KINDS: dict[str, str] = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "payment_method": "PaymentMethod",
    "subscription": "subscription",
    "subscription_item": "subscription_item",
    "subscription_schedule": "subscription_schedule",
    "invoice": "invoice",
    "coupon": "coupon",
    "promotion_code": "promotion code",
    "discount": "discount",
    "invoiceitem": "invoiceitem",
    "checkout.session": "checkout.session",
    "billing_portal.session": "billing_portal.session",
    "billing_portal.configuration": "configuration",
    "billing.meter": "billing.meter",
    "webhook_endpoint": "webhook endpoint",
    "event": "event",
}


def _f(field: str) -> Callable[[Obj], Iterable[Any]]:
    def fn(obj: Obj) -> Iterable[Any]:
        value = obj.get(field)
        if isinstance(value, dict):
            value = value.get("id")
        return (value,)

    return fn


def _sub_prices(obj: Obj) -> Iterable[Any]:
    return [item["price"]["id"] for item in obj["items"]["data"]]


def _bool(field: str) -> Callable[[Obj], Iterable[Any]]:
    return lambda obj: (bool(obj.get(field)),)


INDEXES: dict[str, dict[str, Callable[[Obj], Iterable[Any]]]] = {
    "customer": {"email": _f("email")},
    "product": {"active": _bool("active")},
    "price": {"product": _f("product"), "lookup_key": _f("lookup_key"), "active": _bool("active")},
    "payment_method": {"customer": _f("customer")},
    "subscription": {"customer": _f("customer"), "price": _sub_prices, "status": _f("status")},
    "subscription_item": {"subscription": _f("subscription")},
    "subscription_schedule": {"customer": _f("customer")},
    "invoice": {"customer": _f("customer"), "subscription": lambda o: (o["_sub"],)},
    "checkout.session": {"customer": _f("customer"), "subscription": _f("subscription")},
    "coupon": {},
    "promotion_code": {
        "active": _bool("active"),
        "code": lambda o: (o["code"].lower(),),
        "coupon": lambda o: (o["promotion"]["coupon"],),
        "customer": _f("customer"),
    },
    "discount": {},
    "invoiceitem": {"customer": _f("customer"), "invoice": _f("invoice")},
    "billing_portal.session": {},
    "billing_portal.configuration": {},
    "billing.meter": {"event_name": _f("event_name")},
    "webhook_endpoint": {},
    "event": {"type": _f("type")},
}

# Keys starting with "_" are private bookkeeping and are stripped from API output.
PRIVATE = "_"


def public(obj: Obj) -> Obj:
    """The API view of a stored object (private ``_`` keys removed)."""
    packed = obj.get("_json")
    if packed is not None:
        # Events are stored serialized: plain strings are invisible to the cyclic GC,
        # which keeps request latency flat with many stored events.
        event: Obj = json.loads(packed)
        event["pending_webhooks"] = obj["pending_webhooks"]
        return event
    return {k: v for k, v in obj.items() if not k.startswith(PRIVATE)}


class SavedState:
    """A copy of a fake's data (``FakeStripe.save_state``), to put back with ``restore_state``."""

    def __init__(self, data: dict[str, Any], clock: tuple[int, int | None]) -> None:
        self.data = data
        self.clock = clock


class State:
    """All fake Stripe data. Every access happens under ``self.lock``."""

    #: What ``reset`` starts afresh, apart from the clock: what a saved state holds.
    DATA = (
        "seq",
        "colls",
        "objects",
        "deleted",
        "meta",
        "due",
        "meter_events",
        "usage",
        "webhook_secrets",
    )

    def __init__(self, publisher: Publisher | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.publisher = publisher
        self.base_url = "http://127.0.0.1"
        self.due_handlers: dict[str, DueHandler] = {}
        self.includables: dict[tuple[str, str], Includable] = {}
        self.account: Obj = self._make_account(new_id("acct", 16))
        self.reset()

    # -- lifecycle -----------------------------------------------------------------
    def reset(self) -> None:
        self.clock.offset = 0
        self.clock.pinned = None
        self.seq = 0
        self.colls: dict[str, Collection] = {
            name: Collection(name, INDEXES[name]) for name in KINDS
        }
        self.objects: dict[str, Obj] = {}
        self.deleted: dict[str, Obj] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.due: list[tuple[int, int, str, str]] = []
        self.request: dict[str, Any] = {"id": None, "idempotency_key": None}
        self.meter_events: dict[str, Obj] = {}  # identifier -> meter event
        self.usage: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
        self.webhook_secrets: dict[str, str] = {}

    def save_data(self) -> SavedState:
        # One deepcopy of everything: an object listed both in ``objects`` and in its
        # collection stays one object in the copy.
        data = copy.deepcopy({name: getattr(self, name) for name in self.DATA})
        return SavedState(data, (self.clock.offset, self.clock.pinned))

    def restore_data(self, saved: SavedState) -> None:
        for name, value in copy.deepcopy(saved.data).items():
            setattr(self, name, value)
        self.clock.offset, self.clock.pinned = saved.clock
        self.request = {"id": None, "idempotency_key": None}

    def _make_account(self, acct_id: str) -> Obj:
        return {
            "id": acct_id,
            "object": "account",
            "business_profile": {
                "annual_revenue": None,
                "estimated_worker_count": None,
                "mcc": None,
                "monthly_estimated_revenue": None,
                "name": DEFAULT_ACCOUNT_NAME,
                "product_description": None,
                "support_address": None,
                "support_email": None,
                "support_phone": None,
                "support_url": None,
                "url": None,
            },
            "business_type": None,
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "controller": {"type": "account"},
            "country": "US",
            "created": self.clock.now(),
            "default_currency": "usd",
            "details_submitted": True,
            "email": "owner@example.com",
            "metadata": {},
            "payouts_enabled": True,
            "settings": {
                "branding": {
                    "icon": None,
                    "logo": None,
                    "primary_color": "#4f46e5",
                    "secondary_color": None,
                },
                "card_payments": {
                    "decline_on": {"avs_failure": False, "cvc_failure": False},
                    "statement_descriptor_prefix": None,
                    "statement_descriptor_prefix_kana": None,
                    "statement_descriptor_prefix_kanji": None,
                },
                "dashboard": {"display_name": DEFAULT_ACCOUNT_NAME, "timezone": "Etc/UTC"},
                "payments": {
                    "statement_descriptor": statement_descriptor(DEFAULT_ACCOUNT_NAME),
                    "statement_descriptor_kana": None,
                    "statement_descriptor_kanji": None,
                    "statement_descriptor_prefix_kana": None,
                    "statement_descriptor_prefix_kanji": None,
                },
            },
            "type": "standard",
        }

    def set_account_name(self, name: str) -> None:
        """The business name the hosted pages, invoices and receipts show."""
        self.account["business_profile"]["name"] = name
        self.account["settings"]["dashboard"]["display_name"] = name
        self.account["settings"]["payments"]["statement_descriptor"] = statement_descriptor(name)

    def now(self) -> int:
        return self.clock.now()

    # -- storage -------------------------------------------------------------------
    def add(self, obj: Obj) -> Obj:
        self.seq += 1
        self.colls[obj["object"]].add(obj, self.seq)
        self.objects[obj["id"]] = obj
        return obj

    def save(self, obj: Obj) -> None:
        self.colls[obj["object"]].reindex(obj)

    def remove(self, obj: Obj, stub: Obj | None = None) -> None:
        self.colls[obj["object"]].remove(obj["id"])
        self.objects.pop(obj["id"], None)
        if stub is not None:
            self.deleted[obj["id"]] = stub

    def get(self, kind: str, oid: Any, param: str | None = "id") -> Obj:
        if not isinstance(oid, str) or not oid:
            raise invalid(f"Invalid {KINDS[kind]} id.", param)
        obj = self.colls[kind].get(oid)
        if obj is None:
            raise no_such(KINDS[kind], oid, param)
        return obj

    def meta_of(self, oid: str) -> dict[str, Any]:
        return self.meta.setdefault(oid, {})

    # -- events --------------------------------------------------------------------
    def emit(self, type_: str, obj: Obj, previous: Obj | None = None) -> Obj:
        # Serialized below before anything can mutate ``obj``: that is the snapshot.
        data: Obj = {"object": public(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event: Obj = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": dict(self.request),
            "type": type_,
        }
        if self.publisher is not None:
            targets: list[tuple[str, str, str]] = []
            for ep in self.colls["webhook_endpoint"].by_id.values():
                if ep["status"] != "enabled":
                    continue
                if "*" in ep["enabled_events"] or type_ in ep["enabled_events"]:
                    targets.append((ep["id"], ep["url"], self.webhook_secrets[ep["id"]]))
            self.publisher.publish(event, targets)
        stored: Obj = {
            "id": event["id"],
            "object": "event",
            "type": type_,
            "created": event["created"],
            "pending_webhooks": event["pending_webhooks"],
            "_json": json.dumps(event),
        }
        self.add(stored)
        return event

    def emit_update(self, type_: str, obj: Obj, before: Obj) -> Obj | None:
        prev = diff(before, public(obj))
        if not prev:
            return None
        return self.emit(type_, obj, prev)

    def snapshot(self, obj: Obj) -> Obj:
        result: Obj = jcopy(public(obj))
        return result

    # -- scheduled work ------------------------------------------------------------
    def schedule(self, when: int, kind: str, oid: str) -> None:
        self.seq += 1
        heapq.heappush(self.due, (when, self.seq, kind, oid))

    def process_due(self, until: int) -> int:
        """Run scheduled work due at or before ``until`` in time order."""
        done = 0
        while self.due and self.due[0][0] <= until:
            when, _, kind, oid = heapq.heappop(self.due)
            handler = self.due_handlers.get(kind)
            if handler is None:
                continue
            previous = self.clock.pinned
            self.clock.pinned = max(when, previous or 0)
            saved_request = self.request
            self.request = {"id": None, "idempotency_key": None}
            try:
                handler(self, oid, when)
            finally:
                self.clock.pinned = previous
                self.request = saved_request
            done += 1
        return done

    def next_due(self) -> int | None:
        return self.due[0][0] if self.due else None

    def advance(self, seconds: int) -> int:
        if seconds < 0:
            raise ValueError("the fake clock only moves forward")
        target = self.now() + seconds
        self.process_due(target)
        self.clock.offset += seconds
        # Wall time may have ticked meanwhile; never go backwards.
        return self.now()

    # -- rendering -----------------------------------------------------------------
    def render(self, obj: Obj, expand: list[str] | None = None) -> Obj:
        out = public(obj)
        for path in expand or ():
            segs = path.split(".")
            if len(segs) > 4:
                raise invalid(
                    f"You cannot expand more than 4 levels of a property. Property: {path}",
                    "expand",
                )
            out = self._expand(out, segs, path)
        return out

    def lookup(self, oid: str) -> Obj | None:
        obj = self.objects.get(oid)
        if obj is not None:
            return public(obj)
        return self.deleted.get(oid)

    def _expand(
        self, value: Any, segs: list[str], path: str, owner: Obj | None = None, at: str = ""
    ) -> Any:
        """Expand ``segs`` inside ``value``. ``owner``/``at`` locate nested plain hashes
        (e.g. ``total_details`` of a Checkout Session) for includable fields."""
        if not segs or value is None:
            return value
        if isinstance(value, list):
            return [self._expand(v, segs, path, owner, at) for v in value]
        if not isinstance(value, dict):
            raise invalid(f"This property cannot be expanded ({path}).", "expand")
        if isinstance(value.get("object"), str):
            owner, at = value, ""
        key, rest = segs[0], segs[1:]
        out = dict(value)
        if key in value:
            child = value[key]
        else:
            kind = str(owner.get("object")) if owner is not None else ""
            include = self.includables.get((kind, at + key))
            if include is None or owner is None:
                raise invalid(f"This property cannot be expanded ({path}).", "expand")
            child = include(self, owner)
        if isinstance(child, str):
            child = self._expanded_id(child, path)
        elif isinstance(child, list):  # a list of ids, e.g. a subscription's discounts
            child = [self._expanded_id(c, path) if isinstance(c, str) else c for c in child]
        if child is not None:
            out[key] = self._expand(child, rest, path, owner, f"{at}{key}.")
        else:
            out[key] = None
        return out

    def _expanded_id(self, oid: str, path: str) -> Obj:
        target = self.lookup(oid)
        if target is None:
            raise invalid(f"This property cannot be expanded ({path}).", "expand")
        return target

    def list_response(self, url: str, data: list[Obj], has_more: bool) -> Obj:
        return {"object": "list", "data": data, "has_more": has_more, "url": url}


class RequestContext:
    """Sets ``state.request`` (shown as ``event.request``) while a request is processed."""

    def __init__(self, state: State, request_id: str | None, idem_key: str | None) -> None:
        self.state = state
        self.value = {"id": request_id, "idempotency_key": idem_key}

    def __enter__(self) -> None:
        self.state.request = self.value

    def __exit__(self, *exc: object) -> None:
        self.state.request = {"id": None, "idempotency_key": None}


__all__ = [
    "API_VERSION",
    "DEFAULT_ACCOUNT_NAME",
    "State",
    "StripeError",
    "jcopy",
    "diff",
    "public",
    "RequestContext",
]
