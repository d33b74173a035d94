from __future__ import annotations

# Shared helpers for the fakestripe tests (real HTTP, no mocks).
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe

from fakestripe import FakeStripe


def monthly_price(amount: int = 1500, name: str = "Pro", **extra: Any) -> stripe.Price:
    return stripe.Price.create(
        product_data={"name": name},
        unit_amount=amount,
        currency="usd",
        recurring={"interval": "month"},
        **extra,
    )


def customer_with_card(card: str = "pm_card_visa", email: str = "jenny@example.com") -> Any:
    return stripe.Customer.create(
        email=email,
        payment_method=card,
        invoice_settings={"default_payment_method": card},
    )


def set_default_card(customer_id: str, card: str) -> str:
    pm = stripe.PaymentMethod.attach(card, customer=customer_id)
    stripe.Customer.modify(customer_id, invoice_settings={"default_payment_method": pm.id})
    return str(pm.id)


def event_types(fake: FakeStripe) -> list[str]:
    return [e["type"] for e in fake.events()]


def checkout(price_id: str, **extra: Any) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": "https://app.example/billing/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example/billing/cancel",
    }
    params.update(extra)
    return stripe.checkout.Session.create(**params)


class Receiver:
    """A tiny webhook receiver: records (headers, body); answers with queued statuses."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    receiver.requests.append((dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/stripe"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.requests]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)


@contextmanager
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
