"""``FakeStripe``'s test controls: webhook endpoints, listeners and the delivery queue
(hold, release, reorder, duplicates), and the fake clock."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ._engine import State
from ._params import Params
from ._routes_webhooks import create_endpoint
from ._store import Obj
from ._webhooks import Callback, Delivery, Dispatcher


class WebhookControls:
    """Webhook endpoints and in-process listeners, and the controls of their deliveries."""

    state: State
    dispatcher: Dispatcher
    _startup_endpoints: list[tuple[str, tuple[str, ...], str]]

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
        return create_endpoint(self.state, params, secret)

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


class ClockControls:
    """The fake clock: read it, move it forward; a ticker runs due work as wall time passes."""

    state: State
    _tick_interval: float | None
    _ticker_stop: threading.Event

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

    def _tick(self) -> None:
        interval = self._tick_interval or 1.0
        while not self._ticker_stop.wait(interval):
            with self.state.lock:
                self.state.process_due(self.state.now())
