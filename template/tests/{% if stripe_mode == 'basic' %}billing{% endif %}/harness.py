"""What the basic-mode billing tests drive: the webhook endpoint, posted to as Stripe posts,
the offline Stripe (fakestripe) with the project's plans, over real HTTP, Celery's queue, and
subscription histories as Stripe sends them."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import stripe
from billiard.einfo import ExceptionInfo
from celery.app.trace import build_tracer
from django.db import connections
from django.test import Client, TestCase
from django.urls import reverse

from apps.billing.tasks import webhook_batches
from config.celery import app as celery_app
from fakestripe import FakeStripe, PageResult
from tests.stripe_events import encode, load_fixture, make_event, sign

URL = "/billing/webhook/"
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"
CARD_FAILS_LATER = "4000 0000 0000 0341"  # attaches, every later charge declines
CARD_3DS_ALWAYS = "4000 0027 6000 3184"  # every charge asks the customer to authenticate


def deliver(client: Any, event: dict[str, Any], **sign_kwargs: Any) -> Any:
    """POST a Stripe event signed with a real HMAC, then run what waited for the commit (the
    billing emails), as it runs once a real request's transaction commits."""
    body = encode(event)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            URL,
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body, **sign_kwargs),
        )


@dataclass
class Offline:
    """The offline Stripe with two plans (Pro, Enterprise) and the project's webhook endpoint
    as its listener; `client` is logged in as the test user."""

    fake: FakeStripe
    client: Client
    pro: str
    enterprise: str

    def deliver(self) -> list[int]:
        """Deliver every queued event to /billing/webhook/; all must be accepted."""
        with TestCase.captureOnCommitCallbacks(execute=True):
            statuses = [delivery.status for delivery in self.fake.deliver()]
        assert all(status == 200 for status in statuses), statuses
        return statuses

    def checkout(self, price: str | None = None) -> str:
        """Start a checkout from the project's pricing page; the hosted page's URL."""
        response = self.client.post(reverse("billing:checkout"), {"price_id": price or self.pro})
        assert response.status_code == 302, response.content
        assert response["Location"].startswith(self.fake.url + "/c/pay/cs_")
        return str(response["Location"])

    def subscribe(self, card: str = CARD_OK) -> PageResult:
        """Pricing → checkout → the hosted page with `card` → back to the success page."""
        return self.fake.submit_checkout(self.checkout(), card)

    def portal(self) -> str:
        """Open the customer portal from the project, as the user would."""
        response = self.client.post(reverse("billing:customer_portal"))
        assert response.status_code == 302
        assert response["Location"].startswith(self.fake.url + "/p/session/")
        return urlsplit(response["Location"]).path

    def change_card(self, card: str) -> None:
        """Replace the default payment method in the customer portal."""
        form = {"card_number": card, "card_expiry": "12 / 34", "card_cvc": "123"}
        assert self.fake.page(f"{self.portal()}/payment_method", form).status == 303
        self.deliver()


def start_offline(fake: FakeStripe, settings: Any, client: Client) -> Offline:
    """Create the plans at the offline Stripe and point the project and its webhook at it."""
    settings.STRIPE_SECRET_KEY = fake.api_key
    prices = {}
    for name, amount in (("Pro", 2900), ("Enterprise", 9900)):
        prices[name] = stripe.Price.create(
            product_data={"name": name},
            unit_amount=amount,
            currency="usd",
            recurring={"interval": "month"},
            api_key=fake.api_key,
        ).id
    settings.BILLING_PLANS = [
        {"slug": "pro", "name": "Pro", "price_id": prices["Pro"], "amount": 2900},
        {
            "slug": "enterprise",
            "name": "Enterprise",
            "price_id": prices["Enterprise"],
            "amount": 9900,
        },
    ]
    webhook_client = Client()

    def to_webhook(body: bytes, headers: dict[str, str]) -> int:
        return webhook_client.post(
            URL,
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
        ).status_code

    settings.STRIPE_WEBHOOK_SECRET = fake.add_listener(to_webhook)
    return Offline(fake, client, prices["Pro"], prices["Enterprise"])


# --- the task queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueuedTask:
    """A task message taken off the broker."""

    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    retries: int = 0
    eta: datetime | None = None

    def run(self) -> Any:
        """Run it as a worker runs a message (Celery's tracer, in this thread, retries and all):
        what the task returned, or the exception it raised (a retry raises `Retry`)."""
        task = celery_app.tasks[self.name]
        task_id = str(uuid.uuid4())
        trace = build_tracer(self.name, task, eager=False, propagate=False, app=celery_app)
        request = {"id": task_id, "retries": self.retries, "delivery_info": {}}
        outcome = trace(task_id, self.args, self.kwargs, request).retval
        return outcome.exception if isinstance(outcome, ExceptionInfo) else outcome


class TaskQueue:
    """Celery's queue on its in-memory broker (kombu's memory transport): what the project
    publishes stays queued until the test takes it, and runs it, as workers would."""

    def take(self) -> list[QueuedTask]:
        """Every message queued so far, acknowledged and returned oldest first (the stored
        events this process's sender thread holds are sent first)."""
        assert webhook_batches.flush(timeout=10), "the stored events were not sent in 10 s"
        taken = []
        with celery_app.connection_for_read() as connection:
            queue = connection.SimpleQueue(celery_app.conf.task_default_queue)
            try:
                while True:
                    try:
                        message = queue.get(block=False)
                    except queue.Empty:
                        break
                    args, kwargs, _ = message.payload
                    headers = message.headers
                    eta = datetime.fromisoformat(headers["eta"]) if headers.get("eta") else None
                    taken.append(
                        QueuedTask(headers["task"], args, kwargs, headers.get("retries", 0), eta)
                    )
                    message.ack()
            finally:
                queue.close()
        return taken

    def run_all(self) -> list[Any]:
        """Run what is queued, and what that queues, until nothing is left (one thread)."""
        results = []
        while tasks := self.take():
            results += [task.run() for task in tasks]
        return results


# --- subscription histories -------------------------------------------------------------------

MONTH = 30 * 86_400


@dataclass
class History:
    """The events of some subscriptions' lives, as Stripe sends them (updates carry
    `previous_attributes`), and the state each subscription ends in."""

    events: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    emailing: list[str] = field(default_factory=list)

    def lifecycle(
        self, customer_id: str, subscription_id: str, *, start: int, end: str = "paid"
    ) -> None:
        """Created; a cancellation requested, then withdrawn; a second seat; a renewal that
        fails (two updates of one second, and a payment-failed email); then `end`: "past_due"
        stops there, "paid" pays the invoice, "canceled" pays it and cancels."""
        state = load_fixture(
            "subscription", id=subscription_id, customer=customer_id, created=start
        )
        self.events.append(make_event("customer.subscription.created", state, created=start))

        def change(at: int, event_type: str = "customer.subscription.updated", **new: Any) -> None:
            previous = {key: copy.deepcopy(state.get(key)) for key in new}
            state.update(copy.deepcopy(new))
            event = make_event(event_type, copy.deepcopy(state), created=at)
            event["data"]["previous_attributes"] = previous
            self.events.append(event)

        def items(**fields: Any) -> dict[str, Any]:
            changed = copy.deepcopy(state["items"])
            changed["data"][0].update(fields)
            return changed

        change(start + 10, cancel_at_period_end=True, cancel_at=start + MONTH)
        change(start + 20, cancel_at_period_end=False, cancel_at=None)
        change(start + 30, items=items(quantity=2))
        renewal = start + MONTH
        next_period = items(current_period_start=renewal, current_period_end=renewal + MONTH)
        change(renewal, items=next_period)
        change(renewal, status="past_due")
        invoice = load_fixture(
            "invoice",
            id=f"in_{subscription_id}_renewal",
            customer=customer_id,
            customer_email=None,
            billing_reason="subscription_cycle",
        )
        failed = make_event("invoice.payment_failed", invoice, created=renewal)
        self.events.append(failed)
        self.emailing.append(failed["id"])
        if end != "past_due":
            change(renewal + 3_600, status="active")
        if end == "canceled":
            ended = renewal + 7_200
            change(
                ended,
                "customer.subscription.deleted",
                status="canceled",
                canceled_at=ended,
                ended_at=ended,
            )
        self.final[subscription_id] = state

    def link_by_checkout(self, customer_id: str, user_id: int, *, at: int) -> None:
        """The checkout.session.completed that links `customer_id` to the user."""
        session = load_fixture(
            "checkout_session", customer=customer_id, client_reference_id=str(user_id)
        )
        self.events.append(make_event("checkout.session.completed", session, created=at))


def in_threads(count: int, work: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables on `count` threads, each taking the next one until none is left (as
    `count` workers take tasks off one queue); the results, or the exceptions raised."""
    lock = threading.Lock()
    pending = list(enumerate(work))
    results: list[Any] = [None] * len(work)

    def worker() -> None:
        try:
            while True:
                with lock:
                    if not pending:
                        return
                    index, job = pending.pop(0)
                try:
                    results[index] = job()
                except Exception as exc:
                    results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
