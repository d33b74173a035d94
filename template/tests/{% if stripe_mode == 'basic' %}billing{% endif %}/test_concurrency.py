"""Several workers at once, on a real PostgreSQL server (SQLite serialises writers, so it cannot
show races): concurrent deliveries to the endpoint, and the queued tasks run by many threads at
once, in any order, as several Celery workers run them. Run with DATABASE_URL=postgres://...;
skipped otherwise."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
import stripe
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.billing.emails import BillingEmail
from apps.billing.models import StripeCustomer, Subscription, WebhookEvent
from apps.billing.webhook_handlers import subscription_fields
from tests.concurrency import in_parallel, needs_postgresql
from tests.stripe_events import encode, load_fixture, make_event, sign

from .harness import History, in_threads

pytestmark = [
    needs_postgresql,
    pytest.mark.django_db(transaction=True),
]
Status = WebhookEvent.Status


def post(event: dict[str, Any]) -> int:
    body = encode(event)
    response = Client().post(
        "/billing/webhook/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body),
    )
    return response.status_code


def test_twenty_concurrent_deliveries_of_one_event_have_one_effect(customer, task_queue):
    event = make_event("invoice.payment_failed", load_fixture("invoice"))
    assert in_parallel(20, lambda _: post(event)) == [200] * 20
    stored = WebhookEvent.objects.get()  # stored once
    queued = task_queue.take()
    # Every delivery found it not applied yet, so each queued it: twenty workers run it at once.
    assert [task.args for task in queued] == [[[stored.pk]]] * 20
    assert in_parallel(20, lambda i: queued[i].run()) == [{Status.PROCESSED: 1}] * 20
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (Status.PROCESSED, 1)
    assert BillingEmail.objects.count() == 1
    task_queue.run_all()  # the email's task
    assert len(mail.outbox) == 1


def test_a_delivery_of_an_applied_event_queues_nothing(customer, task_queue):
    event = make_event("customer.subscription.created", load_fixture("subscription"))
    assert post(event) == 200
    task_queue.run_all()
    assert post(event) == 200
    assert task_queue.take() == []
    assert WebhookEvent.objects.get().attempts == 1


def test_twenty_concurrent_runs_create_one_subscription(customer, task_queue):
    post(make_event("customer.subscription.created", load_fixture("subscription")))
    [task] = task_queue.take()
    assert in_parallel(20, lambda _: task.run()) == [{Status.PROCESSED: 1}] * 20
    assert Subscription.objects.count() == 1
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == (Status.PROCESSED, 1)


@pytest.mark.parametrize("newer_first", [True, False])
def test_concurrent_updates_keep_the_newer_state(customer, task_queue, newer_first):
    start = int(time.time()) - 1_000
    post(make_event("customer.subscription.created", load_fixture("subscription"), created=start))
    task_queue.run_all()
    for round_ in range(5):  # several rounds to let the race go both ways
        at = start + 100 * (round_ + 1)
        newer = make_event(
            "customer.subscription.updated",
            load_fixture("subscription", status="past_due"),
            created=at,
        )
        older = make_event(
            "customer.subscription.updated",
            load_fixture("subscription", status="active", cancel_at_period_end=True),
            created=at - 50,
        )
        for event in [newer, older] if newer_first else [older, newer]:
            assert post(event) == 200
        runs = [task.run for task in task_queue.take()]
        assert in_parallel(2, lambda i, runs=runs: runs[i]()) == [{Status.PROCESSED: 1}] * 2
        sub = Subscription.objects.get()
        assert (sub.status, sub.cancel_at_period_end) == ("past_due", False)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_shuffled_history_run_by_eight_workers_ends_in_stripes_state(
    user, django_user_model, task_queue, seed
):
    """Six subscriptions' lives (the first customer is linked by its checkout, so its earlier
    events wait), delivered in a random order and run by eight threads at once: every
    subscription ends as Stripe has it, every event is applied once, one email per failed
    payment, nothing is left waiting or failed."""
    start = int(time.time()) - 3 * 30 * 86_400
    history = History()
    for i in range(6):
        customer_id, owner = f"cus_Shuffled{i}", user
        if i == 0:
            history.link_by_checkout(customer_id, user.pk, at=start + 5)
        else:
            owner = django_user_model.objects.create_user(email=f"owner{i}@example.com")
            StripeCustomer.objects.create(user=owner, stripe_customer_id=customer_id)
        end = ("past_due", "paid", "canceled")[i % 3]
        history.lifecycle(customer_id, f"sub_Shuffled{i}", start=start + i, end=end)
    events = history.events[:]
    random.Random(seed).shuffle(events)
    for event in events:
        assert post(event) == 200
    tasks = task_queue.take()
    random.Random(seed).shuffle(tasks)
    results = in_threads(8, [task.run for task in tasks])
    assert all(isinstance(result, dict) for result in results), results
    task_queue.run_all()  # the emails

    for subscription_id, state in history.final.items():
        row = Subscription.objects.get(stripe_subscription_id=subscription_id)
        expected = subscription_fields(state)
        assert {name: getattr(row, name) for name in expected} == expected, subscription_id
    outcomes = set(WebhookEvent.objects.values_list("status", flat=True))
    assert outcomes == {Status.PROCESSED}
    sent = BillingEmail.objects.filter(sent_at__isnull=False)
    assert sorted(sent.values_list("stripe_event_id", flat=True)) == sorted(history.emailing)
    assert len(mail.outbox) == len(history.emailing)


def test_a_customer_linked_while_its_event_is_being_deferred_leaves_nothing_waiting(
    django_user_model, task_queue
):
    """A subscription event of a customer nobody is linked to yet and the checkout that links
    it, run by two workers at once: whichever order their transactions commit in, the
    subscription is applied (twenty times over, so the race goes every way)."""
    now = int(time.time())
    for i in range(20):
        owner = django_user_model.objects.create_user(email=f"racer{i}@example.com")
        customer_id = f"cus_Racing{i:02d}"
        subscription = make_event(
            "customer.subscription.created",
            load_fixture("subscription", id=f"sub_Racing{i:02d}", customer=customer_id),
            created=now,
        )
        session = load_fixture(
            "checkout_session", customer=customer_id, client_reference_id=str(owner.pk)
        )
        post(subscription)
        post(make_event("checkout.session.completed", session, created=now))
        runs = [task.run for task in task_queue.take()]
        in_parallel(2, lambda j, runs=runs: runs[j]())
        row = Subscription.objects.filter(stripe_subscription_id=f"sub_Racing{i:02d}").first()
        assert row is not None and row.customer.user == owner, i
    assert not WebhookEvent.objects.exclude(status=Status.PROCESSED).exists()


def test_two_concurrent_first_checkouts_give_one_customer(offline, user):
    """Two tabs (or a double click) start the first checkout at once: one Stripe customer, one
    link, and only the newer Checkout page can still be paid."""
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(user)

    def checkout(i: int) -> str:
        response = clients[i].post(reverse("billing:checkout"), {"price_id": offline.pro})
        assert response.status_code == 302, response.content
        return str(response["Location"]).rsplit("/", 1)[1]

    session_ids = in_parallel(2, checkout)
    assert all(isinstance(session_id, str) for session_id in session_ids), session_ids
    key = offline.fake.api_key
    [customer] = stripe.Customer.list(api_key=key).data
    assert StripeCustomer.objects.get().stripe_customer_id == customer.id
    sessions = [stripe.checkout.Session.retrieve(i, api_key=key) for i in session_ids]
    assert {session.customer for session in sessions} == {customer.id}
    assert sorted(session.status for session in sessions) == ["expired", "open"]
