from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from fakestripe import FakeStripe, sign

from .helpers import checkout, monthly_price, receiver


class Listener:
    """Records deliveries; answers with queued statuses (default 200)."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.statuses: list[int] = []
        self.secret = ""

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        self.calls.append((body, headers))
        return self.statuses.pop(0) if self.statuses else 200

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for body, _ in self.calls]

    def ids(self) -> list[str]:
        return [json.loads(body)["id"] for body, _ in self.calls]


def test_http_endpoint_receives_signed_events(fake: FakeStripe) -> None:
    with receiver() as r:
        ep = stripe.WebhookEndpoint.create(
            url=r.url, enabled_events=["customer.created", "customer.updated"]
        )
        cus = stripe.Customer.create(email="hook@example.com")
        stripe.Customer.modify(cus.id, name="Hook")
        stripe.Product.create(name="not subscribed")
        assert fake.wait_idle(5)
        assert r.wait_for(2)
        assert [e["type"] for e in r.events()] == ["customer.created", "customer.updated"]
        for headers, body in r.requests:
            event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], ep.secret)
            assert event.type.startswith("customer.")
            assert headers["Content-Type"].startswith("application/json")
            with pytest.raises(stripe.SignatureVerificationError):
                stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_wrong")
        first = r.events()[0]
        assert first["data"]["object"]["id"] == cus.id
        assert first["api_version"] == "2026-05-27.dahlia"
        assert first["pending_webhooks"] == 1
        # delivered events no longer count as pending
        assert stripe.Event.retrieve(first["id"]).pending_webhooks == 0
        log = [d for d in fake.deliveries if d.target == ep.id]
        assert [d.status for d in log] == [200, 200]


def test_http_endpoint_retries_after_500(fake: FakeStripe) -> None:
    with receiver() as r:
        r.statuses = [500, 503]
        stripe.WebhookEndpoint.create(url=r.url, enabled_events=["*"])
        cus = stripe.Customer.create()
        assert fake.wait_idle(5)
        assert len(r.requests) == 3
        ids = {json.loads(body)["id"] for _, body in r.requests}
        assert len(ids) == 1
        log = fake.deliveries
        assert [(d.status, d.attempt) for d in log] == [(500, 1), (503, 2), (200, 3)]
        assert log[-1].ok and log[-1].event_type == "customer.created"
        del cus


def test_http_endpoint_gives_up_after_max_attempts(fake: FakeStripe) -> None:
    # nothing listens on this port: connection errors are retried, then dropped
    with receiver() as r:
        dead_url = r.url
    ep = stripe.WebhookEndpoint.create(url=dead_url, enabled_events=["*"])
    stripe.Customer.create()
    assert fake.wait_idle(10)
    log = [d for d in fake.deliveries if d.target == ep.id]
    assert [d.attempt for d in log] == list(range(1, 9))
    assert all(d.status == 0 and d.error for d in log)


def test_disabled_endpoint_gets_nothing(fake: FakeStripe) -> None:
    with receiver() as r:
        ep = stripe.WebhookEndpoint.create(url=r.url, enabled_events=["*"])
        stripe.WebhookEndpoint.modify(ep.id, disabled=True)
        stripe.Customer.create()
        assert fake.wait_idle(5)
        assert r.requests == []


def test_listener_queue_and_deliver(fake: FakeStripe) -> None:
    listener = Listener()
    listener.secret = fake.add_listener(
        listener, enabled_events=["customer.created", "invoice.paid"]
    )
    assert listener.secret.startswith("whsec_")
    stripe.Customer.create(email="l@example.com")
    assert listener.calls == []  # queued, never delivered from a background thread
    delivered = fake.deliver()
    assert [d.event_type for d in delivered] == ["customer.created"]
    assert delivered[0].status == 200 and delivered[0].attempt == 1
    body, headers = listener.calls[0]
    event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], listener.secret)
    assert event.type == "customer.created"
    assert fake.deliver() == []


def test_listener_failure_stays_queued(fake: FakeStripe) -> None:
    listener = Listener()
    listener.statuses = [500]
    fake.add_listener(listener)
    cus = stripe.Customer.create()
    stripe.Customer.modify(cus.id, name="x")
    first = fake.deliver()
    assert [(d.event_type, d.status) for d in first] == [
        ("customer.created", 500),
        ("customer.updated", 200),
    ]
    second = fake.deliver()
    assert [(d.event_type, d.status, d.attempt) for d in second] == [("customer.created", 200, 2)]
    assert fake.deliver() == []


def test_listener_callback_can_call_the_api(fake: FakeStripe) -> None:
    """Handlers often call Stripe back; their events are delivered in later rounds."""
    seen: list[str] = []

    def handler(body: bytes, headers: dict[str, str]) -> int:
        event = json.loads(body)
        seen.append(event["type"])
        if event["type"] == "customer.created":
            stripe.Customer.modify(event["data"]["object"]["id"], metadata={"synced": "1"})
        return 200

    fake.add_listener(handler)
    stripe.Customer.create()
    delivered = fake.deliver(max_rounds=5)
    assert seen == ["customer.created", "customer.updated"]
    assert len(delivered) == 2


def test_listener_exception_keeps_events_queued(fake: FakeStripe) -> None:
    calls: list[str] = []

    def broken(body: bytes, headers: dict[str, str]) -> int:
        calls.append(json.loads(body)["type"])
        if len(calls) == 1:
            raise RuntimeError("boom")
        return 200

    fake.add_listener(broken)
    stripe.Customer.create()
    with pytest.raises(RuntimeError):
        fake.deliver()
    assert [d.event_type for d in fake.deliver()] == ["customer.created"]
    assert fake.deliveries[0].status == 0 and "boom" in str(fake.deliveries[0].error)


def test_hold_release_reorder_duplicate(fake: FakeStripe) -> None:
    listener = Listener()
    fake.add_listener(listener, enabled_events=["customer.created"])
    fake.hold()
    ids = [stripe.Customer.create().id for _ in range(4)]
    assert fake.deliver() == []
    fake.reorder("reverse")
    assert fake.release() == 4
    fake.deliver()
    delivered_customers = [json.loads(b)["data"]["object"]["id"] for b, _ in listener.calls]
    assert delivered_customers == list(reversed(ids))

    listener.calls.clear()
    fake.reorder(None)
    fake.hold()
    for _ in range(6):
        stripe.Customer.create()
    fake.release(order="shuffle", seed=7)
    fake.deliver()
    shuffled = listener.ids()
    listener.calls.clear()
    events = [e["id"] for e in fake.events("customer.created")][-6:]
    assert sorted(shuffled) == sorted(events) and shuffled != events

    fake.duplicate_next(1)
    stripe.Customer.create()
    stripe.Customer.create()
    fake.deliver()
    ids_seen = listener.ids()
    assert len(ids_seen) == 3 and ids_seen[0] == ids_seen[1] != ids_seen[2]


def test_hold_applies_to_http_endpoints(fake: FakeStripe) -> None:
    with receiver() as r:
        stripe.WebhookEndpoint.create(url=r.url, enabled_events=["customer.created"])
        fake.hold()
        stripe.Customer.create(email="a@example.com")
        stripe.Customer.create(email="b@example.com")
        assert fake.wait_idle(2)
        assert r.requests == []
        fake.release(order="reverse")
        assert fake.wait_idle(5)
        emails = [e["data"]["object"]["email"] for e in r.events()]
        assert emails == ["b@example.com", "a@example.com"]


def test_checkout_flow_events_reach_listener(fake: FakeStripe) -> None:
    listener = Listener()
    fake.add_listener(listener)
    price = monthly_price()
    session = checkout(price.id, customer_email="flow@example.com")
    fake.deliver()
    listener.calls.clear()
    fake.submit_checkout(session.id)
    fake.deliver()
    types = listener.types()
    assert types[0] == "customer.created" and types[-1] == "checkout.session.completed"
    for body, headers in listener.calls:
        event: Any = stripe.Webhook.construct_event(
            body, headers["Stripe-Signature"], listener.secret or _secret(fake)
        )
        assert event.data.object.object in (
            "customer",
            "payment_method",
            "subscription",
            "invoice",
            "checkout.session",
        )


def _secret(fake: FakeStripe) -> str:
    listeners = list(fake.dispatcher.listeners.values())
    return listeners[0].secret


def test_sign_helper_matches_stripe_python() -> None:
    body = b'{"id": "evt_1", "object": "event"}'
    header = sign(body, "whsec_test")
    assert stripe.WebhookSignature.verify_header(body.decode(), header, "whsec_test")
