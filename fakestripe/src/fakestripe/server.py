from __future__ import annotations

# The ``FakeStripe`` server: HTTP front end, auth, idempotency and the public Python API.
import base64
import json
import re
import sys
import threading
import traceback
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import _api, _pages, _sessions, _subscription_clock
from ._engine import API_VERSION, RequestContext, State, public
from ._errors import StripeError
from ._form import decode
from ._params import Params, expand_param
from ._store import Obj, rand_str
from ._webhooks import Callback, Delivery, Dispatcher

_KEY = re.compile(r"^sk_test_[A-Za-z0-9]{24,}$")
#: The offline Stripe has no client-side API; a page that needs a publishable key gets this one.
PUBLISHABLE_KEY = "pk_test_offlinestripe00000000000000"
_ALLOWED_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_STORED_STATUSES = frozenset({200, 402, 500})


class PageResult:
    """Response of a hosted page: status, ``Location`` header (redirects) and HTML text."""

    __slots__ = ("status", "location", "text")

    def __init__(self, status: int, location: str | None, text: str) -> None:
        self.status = status
        self.location = location
        self.text = text

    def __repr__(self) -> str:
        return f"PageResult(status={self.status}, location={self.location!r})"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


class _Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Idempotency:
    """Stored results per (api key, Idempotency-Key), like Stripe's 24h idempotency window.

    Entries are flat tuples of strings/bytes so the cyclic GC can ignore them.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.lock = threading.Lock()
        self.capacity = capacity
        self.done: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()
        self.running: set[tuple[str, str]] = set()

    def begin(self, key: tuple[str, str], fingerprint: bytes) -> _Response | str | None:
        with self.lock:
            found = self.done.get(key)
            if found is not None:
                fp, status, header_items, body, req_id = found
                if fp != fingerprint:
                    return "mismatch"
                headers = dict(header_items)
                headers["Idempotent-Replayed"] = "true"
                headers["Original-Request"] = req_id
                return _Response(status, headers, body)
            if key in self.running:
                return "running"
            self.running.add(key)
            return None

    def finish(
        self, key: tuple[str, str], fingerprint: bytes, resp: _Response | None, req_id: str
    ) -> None:
        with self.lock:
            self.running.discard(key)
            if resp is not None:
                entry = (fingerprint, resp.status, tuple(resp.headers.items()), resp.body, req_id)
                self.done[key] = entry
                while len(self.done) > self.capacity:
                    self.done.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.done.clear()


class _Headers(dict[str, str]):
    """Case-insensitive header lookup."""

    def __init__(self, raw: dict[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in raw.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "fakestripe"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = _Headers(dict(self.headers.items()))
        resp = self.server.fake._handle(method, self.path, headers, body)
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], fake: FakeStripe) -> None:
        self.fake = fake
        super().__init__(addr, _Handler)


class FakeStripe:
    """An offline, stateful fake of the Stripe API (pinned to ``API_VERSION``).

    Usage::

        with FakeStripe() as fake:
            fake.configure_stripe_module(stripe)
            stripe.Customer.create(email="a@example.com")
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        retry_base: float = 0.05,
        max_attempts: int = 8,
        webhook_timeout: float = 5.0,
        seed: Mapping[str, Any] | list[Any] | None = None,
        retry_days: Iterable[int] = (3, 5, 7),
        record_responses: bool = False,
        tick_interval: float | None = 1.0,
    ) -> None:
        if host not in _ALLOWED_HOSTS:
            raise ValueError("FakeStripe only binds to 127.0.0.1 (loopback)")
        self.host = _ALLOWED_HOSTS[host]
        self._requested_port = port
        self.api_key = api_key or f"sk_test_{rand_str(32)}"
        if not _KEY.match(self.api_key):
            raise ValueError("api_key must look like sk_test_ followed by 24+ alphanumerics")
        self.dispatcher = Dispatcher(
            retry_base, max_attempts, webhook_timeout, on_delivered=self._on_delivered
        )
        self.state = State(self.dispatcher)
        _subscription_clock.register(self.state)
        _sessions.register(self.state)
        self._retry_days = tuple(retry_days)
        self.state.meta_of("__config__")["retry_days"] = self._retry_days
        self._seed = seed
        self._startup_endpoints: list[tuple[str, tuple[str, ...], str]] = []
        self._idem = _Idempotency()
        self.responses: list[tuple[str, str, int, bytes]] | None = [] if record_responses else None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tick_interval = tick_interval
        self._ticker: threading.Thread | None = None
        self._ticker_stop = threading.Event()
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeStripe is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeStripe:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self._requested_port), self)
        self.port = int(self._server.server_address[1])
        self.state.base_url = self.url
        self.dispatcher.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fakestripe-http",
            daemon=True,
        )
        self._thread.start()
        if self._tick_interval:
            # Due work (trial ends, renewals, expiries) also runs as wall-clock time passes.
            self._ticker_stop.clear()
            self._ticker = threading.Thread(target=self._tick, name="fakestripe-clock", daemon=True)
            self._ticker.start()
        if self._seed is not None:
            self.load_seed(self._seed)
        return self

    def _tick(self) -> None:
        interval = self._tick_interval or 1.0
        while not self._ticker_stop.wait(interval):
            with self.state.lock:
                self.state.process_due(self.state.now())

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._ticker_stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        self.dispatcher.stop()

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to a fresh fake: forget objects, events, deliveries, listeners and time travel.

        Kept: URL, API key, account id, seed data (re-applied) and endpoints added with
        ``add_webhook_endpoint`` (re-created with the same secrets).
        """
        with self.state.lock:
            self.state.reset()
            self.state.meta_of("__config__")["retry_days"] = self._retry_days
            self.dispatcher.reset()
            self._idem.clear()
            if self._seed is not None:
                self.load_seed(self._seed)
            for url, events, secret in self._startup_endpoints:
                self._create_endpoint(url, events, secret)

    # -- stripe-python wiring ------------------------------------------------------------
    def configure_stripe_module(self, stripe: Any, set_api_key: bool = True) -> None:
        """Point the global ``stripe`` module at this fake."""
        stripe.api_base = self.url
        stripe.upload_api_base = self.url
        stripe.connect_api_base = self.url
        stripe.meter_events_api_base = self.url
        if set_api_key:
            stripe.api_key = self.api_key
        if hasattr(stripe, "enable_telemetry"):
            stripe.enable_telemetry = False

    #: The globals of stripe-python that ``configure_stripe_module`` may change.
    STRIPE_MODULE_GLOBALS = (
        "api_base",
        "upload_api_base",
        "connect_api_base",
        "meter_events_api_base",
        "api_key",
        "enable_telemetry",
        "max_network_retries",
    )

    @contextmanager
    def stripe_module(
        self, stripe: Any, set_api_key: bool = True, max_network_retries: int | None = None
    ) -> Iterator[Any]:
        """Point ``stripe`` at this fake for the block, then restore every global it changed."""
        saved = {
            name: getattr(stripe, name)
            for name in self.STRIPE_MODULE_GLOBALS
            if hasattr(stripe, name)
        }
        self.configure_stripe_module(stripe, set_api_key=set_api_key)
        if max_network_retries is not None:
            stripe.max_network_retries = max_network_retries
        try:
            yield stripe
        finally:
            for name, value in saved.items():
                setattr(stripe, name, value)

    def base_addresses(self) -> dict[str, str]:
        """``base_addresses`` for ``stripe.StripeClient(api_key, base_addresses=...)``."""
        return {"api": self.url, "files": self.url, "connect": self.url, "meter_events": self.url}

    # -- clock ---------------------------------------------------------------------------
    def now(self) -> int:
        with self.state.lock:
            return self.state.now()

    def advance(
        self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> int:
        """Move fake time forward, running trial ends, renewals, retries, expiries in order."""
        total = int(seconds + 60 * minutes + 3600 * hours + 86400 * days)
        with self.state.lock:
            return self.state.advance(total)

    # -- webhooks --------------------------------------------------------------------------
    def add_webhook_endpoint(
        self, url: str, enabled_events: Iterable[str] = ("*",), secret: str | None = None
    ) -> tuple[str, str]:
        """Register an HTTP endpoint (like ``POST /v1/webhook_endpoints``). Returns (id, secret).

        Endpoints added this way survive ``reset()``.
        """
        events = tuple(enabled_events)
        with self.state.lock:
            ep = self._create_endpoint(url, events, secret)
            self._startup_endpoints.append((url, events, ep["secret"]))
        return ep["id"], ep["secret"]

    def _create_endpoint(self, url: str, events: tuple[str, ...], secret: str | None) -> Obj:
        params: Params = {"url": url, "enabled_events": list(events)}
        return _api.create_endpoint(self.state, params, secret)

    def add_listener(
        self, callback: Callback, enabled_events: Iterable[str] = ("*",), secret: str | None = None
    ) -> str:
        """Register an in-process listener; events queue until ``deliver()``. Returns its secret.

        ``callback(body: bytes, headers: dict[str, str]) -> int`` (an HTTP status).
        """
        return self.dispatcher.add_listener(callback, tuple(enabled_events), secret).secret

    def remove_listener(self, secret_or_id: str) -> bool:
        return self.dispatcher.remove_listener(secret_or_id)

    def deliver(self, max_rounds: int = 10) -> list[Delivery]:
        """Deliver queued listener events on the calling thread (see ``Dispatcher.deliver``)."""
        return self.dispatcher.deliver(max_rounds)

    def hold(self) -> None:
        self.dispatcher.hold()

    def release(self, order: str | None = None, seed: int | None = None) -> int:
        return self.dispatcher.release(None if order == "none" else order, seed)

    def reorder(self, mode: str | None, seed: int | None = None) -> None:
        self.dispatcher.reorder(mode, seed)

    def duplicate_next(self, n: int = 1) -> None:
        self.dispatcher.duplicate_next(n)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        return self.dispatcher.wait_idle(timeout)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery attempt so far (HTTP endpoints and listeners), oldest first."""
        return self.dispatcher.deliveries()

    def pending(self) -> dict[str, int]:
        """Counts of held, queued (HTTP/listener) and in-flight deliveries."""
        return self.dispatcher.pending()

    def _on_delivered(self, event_id: str) -> None:
        with self.state.lock:
            event = self.state.colls["event"].get(event_id)
            if event is not None and event["pending_webhooks"] > 0:
                event["pending_webhooks"] -= 1

    # -- hosted pages, driven like a browser -------------------------------------------------
    def page(self, url: str, form: Mapping[str, str] | None = None) -> PageResult:
        """GET (or POST ``form`` to) a hosted page over HTTP without following redirects."""
        if url.startswith("/"):
            url = self.url + url
        data = urlencode(dict(form)).encode() if form is not None else None
        request = urllib.request.Request(
            url, data=data, method="POST" if form is not None else "GET"
        )
        try:
            with _NO_REDIRECT.open(request, timeout=30) as resp:
                return PageResult(
                    resp.status,
                    resp.headers.get("Location"),
                    resp.read().decode("utf-8", "replace"),
                )
        except urllib.error.HTTPError as err:
            body = err.read().decode("utf-8", "replace")
            return PageResult(err.code, err.headers.get("Location"), body)

    def submit_checkout(
        self,
        session: str,
        card: str | None = "4242 4242 4242 4242",
        *,
        email: str | None = None,
        name: str = "Jenny Rosen",
        expiry: str = "12 / 34",
        cvc: str = "123",
        postal_code: str = "94103",
        three_d_secure: str = "complete",
    ) -> PageResult:
        """Fill in and submit the hosted Checkout page for ``session`` (id or url).

        Completes a 3D Secure challenge with ``three_d_secure`` ("complete" or "fail") when
        the card asks for one. Returns the final page response: a 303 whose ``location`` is
        the success URL, or a 422 page showing the error.
        """
        path = session if "/" in session else f"/c/pay/{session}"
        form = {"billing_name": name, "postal_code": postal_code}
        if email is not None:
            form["email"] = email
        if card is not None:
            form.update(card_number=card, card_expiry=expiry, card_cvc=cvc)
        result = self.page(path, form)
        if result.status == 200 and "name=decision" in result.text:
            result = self.page(
                f"{urlsplit(self.page_url(path)).path}/3ds", {"decision": three_d_secure}
            )
        return result

    def page_url(self, path: str) -> str:
        return path if path.startswith("http") else self.url + path

    # -- inspection ------------------------------------------------------------------------
    def get(self, object_id: str) -> Obj | None:
        """A JSON-ready copy of any stored object, or None."""
        with self.state.lock:
            obj = self.state.objects.get(object_id)
            return json.loads(json.dumps(public(obj))) if obj is not None else None

    def events(self, type: str | None = None) -> list[Obj]:  # noqa: A002
        """All events, oldest first (optionally of one type)."""
        with self.state.lock:
            coll = self.state.colls["event"]
            stored = [coll.by_id[i] for i in coll.all]
            return [public(e) for e in stored if type is None or e["type"] == type]

    def load_seed(self, data: Mapping[str, Any] | list[Any]) -> dict[str, str]:
        """Create products/prices/meters (see ``__main__`` for the JSON format).

        Returns a mapping of lookup keys / meter event names to created ids.
        """
        from . import _catalog, _meters

        seed_data: Mapping[str, Any] = {"products": data} if isinstance(data, list) else data
        created: dict[str, str] = {}
        with self.state.lock:
            st = self.state
            for meter in seed_data.get("meters", []):
                obj = _meters.create_meter(st, _as_params(meter))
                created[obj["event_name"]] = obj["id"]
            for product in seed_data.get("products", []):
                prod_params = {k: v for k, v in product.items() if k != "prices"}
                prod = _catalog.create_product(st, _as_params(prod_params))
                created[prod["id"]] = prod["id"]
                for price in product.get("prices", []):
                    pp = dict(price)
                    pp["product"] = prod["id"]
                    rec = dict(pp.get("recurring") or {})
                    if rec.get("meter") in created:
                        rec["meter"] = created[rec["meter"]]
                    if rec:
                        pp["recurring"] = rec
                    obj = _catalog.create_price(st, _as_params(pp))
                    created[obj["lookup_key"] or obj["id"]] = obj["id"]
            for ep in seed_data.get("webhook_endpoints", []):
                events = tuple(ep.get("enabled_events", ["*"]))
                obj = self._create_endpoint(ep["url"], events, ep.get("secret"))
                created[ep["url"]] = obj["id"]
        return created

    # -- request handling ----------------------------------------------------------------
    def _handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> _Response:
        parts = urlsplit(raw_path)
        path = parts.path
        if path.startswith(("/v1/", "/_fake/")):
            return self._handle_api(method, path, parts.query, headers, body)
        return self._handle_page(method, path, body)

    def _handle_page(self, method: str, path: str, body: bytes) -> _Response:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        page: _pages.Page | None = None
        for m, rx, fn in _pages.PAGE_ROUTES:
            if m != method:
                continue
            found = rx.match(path)
            if found:
                with self.state.lock:
                    self.state.process_due(self.state.now())
                    try:
                        page = fn(self.state, form, *found.groups())
                    except Exception:
                        traceback.print_exc(file=sys.stderr)
                        page = _pages.layout("Error", "<p>Internal error</p>", 500)
                break
        if page is None:
            page = _pages.not_found(f"No page at {path}")
        headers = {"Content-Type": page.content_type, "Cache-Control": "no-store"}
        headers.update(page.headers)
        return _Response(page.status, headers, page.body)

    def _auth(self, headers: Mapping[str, str]) -> str:
        raw = headers.get("Authorization") or ""
        key = ""
        if raw.startswith("Bearer "):
            key = raw[7:].strip()
        elif raw.startswith("Basic "):
            try:
                key = base64.b64decode(raw[6:]).decode().split(":", 1)[0]
            except ValueError:
                key = ""
        if not key:
            raise StripeError(401, _NO_KEY)
        if not _KEY.match(key):
            masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
            raise StripeError(401, f"Invalid API Key provided: {masked}", code="api_key_invalid")
        return key

    def _handle_api(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> _Response:
        req_id = f"req_{rand_str(14)}"
        base_headers = {
            "Content-Type": "application/json",
            "Request-Id": req_id,
            "Stripe-Version": API_VERSION,
            "Access-Control-Allow-Origin": "*",
            "Cache-Control": "no-cache, no-store",
        }
        idem_key = headers.get("Idempotency-Key") if method == "POST" else None
        if idem_key:
            base_headers["Idempotency-Key"] = idem_key
        try:
            api_key = self._auth(headers)
        except StripeError as err:
            return _error(err, base_headers, req_id)
        fingerprint = method.encode() + b" " + path.encode() + b"\n" + body
        slot: tuple[str, str] | None = None
        if idem_key:
            slot = (api_key, idem_key)
            found = self._idem.begin(slot, fingerprint)
            if isinstance(found, _Response):
                return found
            if found == "mismatch":
                error = StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{idem_key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
                return _error(error, base_headers, req_id)
            if found == "running":
                error = StripeError(
                    409,
                    "There is currently another in-progress request using this Idempotent Key "
                    "(that probably means you submitted twice, and the other request is still "
                    f"going through): {idem_key}. Please try again later.",
                    type="idempotency_error",
                    code="idempotency_key_in_use",
                )
                return _error(error, base_headers, req_id)
        resp = self._execute(method, path, query, headers, body, req_id, idem_key, base_headers)
        if self.responses is not None:
            self.responses.append((method, path, resp.status, resp.body))
        if slot is not None:
            stored = resp if resp.status in _STORED_STATUSES else None
            self._idem.finish(slot, fingerprint, stored, req_id)
        return resp

    def _execute(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        req_id: str,
        idem_key: str | None,
        base_headers: dict[str, str],
    ) -> _Response:
        try:
            if method == "POST":
                if "json" in (headers.get("Content-Type") or ""):
                    raise StripeError(
                        400,
                        "Invalid request: the v1 API expects application/x-www-form-urlencoded "
                        "bodies.",
                    )
                params = decode(body.decode("utf-8", "replace"))
                if query:
                    params = {**decode(query), **params}
            else:
                params = decode(query)
            found_route = _api.match(method, path)
            if found_route is None:
                raise StripeError(
                    404,
                    f"Unrecognized request URL ({method}: {path}). Please see "
                    "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                )
            route, groups = found_route
            expand = expand_param(params)
            params.pop("expand", None)
            ctx = _api.Ctx(self.state, self, params, expand)
            if route.locked:
                with self.state.lock:
                    self.state.process_due(self.state.now())
                    with RequestContext(self.state, req_id, idem_key):
                        obj = route.handler(ctx, *groups)
                        out = self.state.render(obj, expand)
                        payload = json.dumps(out, indent=2).encode()
            else:
                payload = json.dumps(route.handler(ctx, *groups), indent=2).encode()
            return _Response(200, base_headers, payload)
        except StripeError as err:
            return _error(err, base_headers, req_id)
        except Exception as exc:  # surfaced to the developer, like a Stripe 500
            traceback.print_exc(file=sys.stderr)
            internal = StripeError(500, f"fakestripe internal error: {exc!r}", type="api_error")
            return _error(internal, base_headers, req_id)


def _error(err: StripeError, base_headers: dict[str, str], req_id: str) -> _Response:
    headers = dict(base_headers)
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="Stripe"'
    return _Response(err.status, headers, json.dumps(err.body(req_id), indent=2).encode())


def _as_params(value: Any) -> Any:
    """Convert JSON seed data into the string-valued params the API layer expects."""
    if isinstance(value, dict):
        return {str(k): _as_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_params(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
