"""``FakeStripe``: the offline Stripe's public Python API. It starts and stops the HTTP
server, wires stripe-python to it, and inherits its test controls (webhook deliveries, the clock)
and hosted-page helpers from ``_controls`` and ``_browser``."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from . import _checkout, _seed, _subscription_clock
from ._browser import HostedPages, PageResult
from ._controls import ClockControls, WebhookControls
from ._engine import DEFAULT_ACCOUNT_NAME, SavedState, State, public
from ._http import HttpServer
from ._requests import API_KEY, Requests
from ._store import Obj, rand_str
from ._webhooks import Dispatcher

__all__ = ["PUBLISHABLE_KEY", "FakeStripe", "PageResult"]

#: The offline Stripe has no client-side API; a page that needs a publishable key gets this one.
PUBLISHABLE_KEY = "pk_test_offlinestripe00000000000000"
_ALLOWED_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}


class FakeStripe(WebhookControls, ClockControls, HostedPages):
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
        account_name: str | None = None,
    ) -> None:
        if host not in _ALLOWED_HOSTS:
            raise ValueError("FakeStripe only binds to 127.0.0.1 (loopback)")
        self.host = _ALLOWED_HOSTS[host]
        self._requested_port = port
        self.api_key = api_key or f"sk_test_{rand_str(32)}"
        if not API_KEY.match(self.api_key):
            raise ValueError("api_key must look like sk_test_ followed by 24+ alphanumerics")
        self.dispatcher = Dispatcher(
            retry_base, max_attempts, webhook_timeout, on_delivered=self._on_delivered
        )
        self.state = State(self.dispatcher)
        # The business name on hosted pages and invoices: the argument, else the
        # FAKESTRIPE_ACCOUNT_NAME environment variable, else a neutral default.
        name = account_name or os.environ.get("FAKESTRIPE_ACCOUNT_NAME") or DEFAULT_ACCOUNT_NAME
        self.state.set_account_name(name.strip() or DEFAULT_ACCOUNT_NAME)
        _subscription_clock.register(self.state)
        _checkout.register(self.state)
        self._retry_days = tuple(retry_days)
        self.state.meta_of("__config__")["retry_days"] = self._retry_days
        self._seed = seed
        self._startup_endpoints: list[tuple[str, tuple[str, ...], str]] = []
        self.responses: list[tuple[str, str, int, bytes]] | None = [] if record_responses else None
        self._requests = Requests(self.state, self, self.responses)
        self._server: HttpServer | None = None
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
        self._server = HttpServer((self.host, self._requested_port), self._requests.handle)
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
            self._requests.idempotency.clear()
            if self._seed is not None:
                self.load_seed(self._seed)
            for url, events, secret in self._startup_endpoints:
                self._create_endpoint(url, events, secret)

    def save_state(self) -> SavedState:
        """A copy of the fake's data (objects, events, scheduled work, meter usage, fake time),
        for ``restore_state``: build a catalog once, then start each test from it."""
        with self.state.lock:
            return self.state.save_data()

    def restore_state(self, saved: SavedState) -> None:
        """Put back what ``save_state`` copied, as it was then (a saved state can be restored
        any number of times). Listeners stay registered; deliveries not made yet are dropped:
        their events belong to the data just replaced."""
        with self.state.lock:
            self.state.restore_data(saved)
            self.dispatcher.drop_queued()
            self._requests.idempotency.clear()

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
        return _seed.load_seed(self.state, data, self._create_endpoint)
