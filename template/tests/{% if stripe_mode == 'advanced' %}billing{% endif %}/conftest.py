"""Fixtures of the advanced-mode billing tests.

Two ways to get Stripe objects:
- `stripe_fake`: the offline Stripe (fakestripe) over real HTTP. dj-stripe and the project call
  it like api.stripe.com, and its events reach /djstripe/webhook/ signed with a real HMAC when
  a test calls `deliver()`.
- `factories`: dj-stripe rows written straight to the database, for tests of gating and usage
  that need no Stripe round trip.

A webhook stores the event and queues its processing once the request's transaction commits;
without a broker (as here) the task then runs in-process. Tests inside a transaction run that
on-commit work explicitly: `deliver()` and `post_webhook` do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import Client
from djstripe.models import Event, WebhookEventTrigger

from apps.billing import batching
from apps.billing.models import PlanConfiguration, WebhookEvent
from apps.billing.tasks import webhook_batches
from config.celery import app as celery_app
from fakestripe import Delivery, FakeStripe
from tests.fuzzing import WebhookTarget
from tests.offline_billing import BillingStripe, TeamPlans
from tests.stripe_events import sign

from . import factories

WEBHOOK_URL = "/djstripe/webhook/"
WEBHOOK_SECRET = "whsec_testadvancedsuitesecret000000"


@pytest.fixture(autouse=True)
def stripe_settings(settings: Any) -> Any:
    """The same test key in every dj-stripe setting: never a developer's key from .env."""
    key = django_settings.STRIPE_SECRET_KEY
    settings.STRIPE_TEST_SECRET_KEY = settings.STRIPE_LIVE_SECRET_KEY = key
    settings.STRIPE_TEST_PUBLIC_KEY = settings.STRIPE_LIVE_PUBLIC_KEY = settings.STRIPE_PUBLIC_KEY
    settings.STRIPE_LIVE_MODE = False
    settings.DJSTRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.BILLING_TRIAL_PERIOD_DAYS = 0
    return settings


@pytest.fixture(autouse=True)
def celery_join_flag() -> Iterator[None]:
    """Undo a race of Celery's in-process tasks run from several threads at once (the
    concurrency tests' requests): each one sets a process-wide "inside a task" flag and puts
    back the value it found, so the last one out can leave it set, and a later test's
    `result.get()` would raise "Never call result.get() within a task!"."""
    from celery._state import _set_task_join_will_block

    yield
    _set_task_join_will_block(False)


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeStripe]:
    """One offline Stripe for the session; stripe-python (and so dj-stripe) calls it."""
    fake = FakeStripe(api_key=django_settings.STRIPE_SECRET_KEY).start()
    try:
        with fake.stripe_module(stripe, set_api_key=False, max_network_retries=0):
            yield fake
    finally:
        fake.stop()


class StripeFake:
    """The fake of one test: empty at start, its events posted to /djstripe/webhook/."""

    def __init__(self, fake: FakeStripe, capture: Any) -> None:
        self.fake = fake
        self.capture = capture
        self.client = Client()
        self.statuses: list[int] = []
        self.listener = fake.add_listener(self._post, secret=WEBHOOK_SECRET)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fake, name)

    def _post(self, body: bytes, headers: dict[str, str]) -> int:
        response = self.client.post(
            WEBHOOK_URL,
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
        )
        self.statuses.append(response.status_code)
        return response.status_code

    def delivered_event_ids(self) -> set[str]:
        """The ids of the events posted to the webhook so far (the catalog's are never
        posted: see `CatalogSnapshot`)."""
        return {delivery.event_id for delivery in self.fake.deliveries}

    def deliver(self, *, expect_ok: bool = True) -> list[Delivery]:
        """Post every queued event to the webhook, running on-commit work (the processing of
        the stored events, and the emails it queues) too."""
        with self.capture(execute=True):
            deliveries = self.fake.deliver()
        if expect_ok:
            failed = [d for d in deliveries if not d.ok]
            assert not failed, f"webhook deliveries failed: {failed}"
        return deliveries


@pytest.fixture
def stripe_fake(
    fake_server: FakeStripe, django_capture_on_commit_callbacks: Any, db: Any
) -> Iterator[StripeFake]:
    fake_server.reset()
    wrapper = StripeFake(fake_server, django_capture_on_commit_callbacks)
    try:
        yield wrapper
    finally:
        fake_server.remove_listener(wrapper.listener)


@pytest.fixture
def billing_stripe(
    stripe_fake: StripeFake, catalog: factories.Catalog, monkeypatch: pytest.MonkeyPatch
) -> BillingStripe:
    """The offline Stripe for the tests both modes share (Pro is the plan they buy); its events
    go to /djstripe/webhook/."""
    monkeypatch.setattr(stripe, "api_key", stripe_fake.api_key)
    return BillingStripe(stripe_fake.fake, catalog["pro"].stripe_price_id, stripe_fake.deliver)


@pytest.fixture
def team_plans(billing_stripe: BillingStripe) -> TeamPlans:
    """Team (per seat) and Small team (at most 3 members) added to the catalog (the same
    fixture exists in basic mode, for the team tests both modes share)."""
    plans = TeamPlans(seat_price_id="", small_price_id="")
    team, small = factories.create_team_plans(
        seat_amount=plans.seat_amount, small_cap=plans.small_cap
    )
    return TeamPlans(seat_price_id=team.stripe_price_id, small_price_id=small.stripe_price_id)


@pytest.fixture(scope="session")
def catalog_snapshot() -> factories.CatalogSnapshot:
    return factories.CatalogSnapshot()


@pytest.fixture
def catalog(
    stripe_fake: StripeFake, catalog_snapshot: factories.CatalogSnapshot
) -> factories.Catalog:
    """Pro, Enterprise and a metered plan, created in the fake and synced as plans (built once a
    session, then restored: see `CatalogSnapshot`)."""
    return catalog_snapshot.catalog(stripe_fake.fake)


@pytest.fixture
def make_active_subscription(user: Any) -> Callable[..., Any]:
    """A dj-stripe subscription of `user` written to the database (no Stripe call)."""

    def make(plan: Any = None, **kwargs: Any) -> Any:
        return factories.subscription(user=user, plan=plan, **kwargs)

    return make


@pytest.fixture
def example_templates(settings: Any) -> None:
    """Make the documented template snippets (tests/billing/templates/) renderable by name."""
    from pathlib import Path

    engine = {**settings.TEMPLATES[0]}
    engine["DIRS"] = [*engine["DIRS"], Path(__file__).parent / "templates"]
    settings.TEMPLATES = [engine]


@pytest.fixture
def subscribe(user: Any) -> Callable[..., Any]:
    """`subscribe(plan_slug, status=...)`: a subscription of `user` to that plan (the same
    fixture exists in basic mode, for the tests both modes share). Enterprise has priority
    support and no analytics; Pro the reverse."""

    def make(plan: str = "pro", *, status: str = "active") -> Any:
        features = {"priority_support": True} if plan == "enterprise" else None
        config = PlanConfiguration.objects.filter(slug=plan).first()
        config = config or factories.plan(plan, features=features)
        return factories.subscription(user=user, plan=config, status=status)

    return make


def stored_rows() -> int:
    """Rows a webhook delivery writes: the stored event, dj-stripe's delivery log, its Event."""
    return (
        WebhookEvent.objects.count() + WebhookEventTrigger.objects.count() + Event.objects.count()
    )


@pytest.fixture
def webhook_target() -> WebhookTarget:
    """/djstripe/webhook/: a delivery stores the event (and dj-stripe's delivery log); the
    worker's processing adds dj-stripe's Event."""
    return WebhookTarget(url=WEBHOOK_URL, secret=WEBHOOK_SECRET, stored=stored_rows)


@pytest.fixture
def post_webhook(django_capture_on_commit_callbacks: Any) -> Callable[..., HttpResponse]:
    """`post_webhook(body, url=..., secret=..., timestamp=..., **headers)`: POST `body` signed
    as Stripe signs it, then run what the request's commit queued (the event's processing,
    in-process as without a broker, and the emails that queues)."""

    def post(
        body: bytes,
        *,
        url: str = WEBHOOK_URL,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        **headers: Any,
    ) -> HttpResponse:
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(
                url,
                data=body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign(body, secret=secret, timestamp=timestamp),
                **headers,
            )

    return post


class TaskQueue:
    """Celery's in-memory broker instead of tasks run in-process: what the code queues is held
    until the test takes it (`drain`) and runs it as workers would (`run`: several at once, in
    any order, twice)."""

    def drain(self) -> list[tuple[str, list[Any]]]:
        """Take every queued message: (task name, args), oldest first (the stored events this
        process's sender thread holds are sent first)."""
        assert webhook_batches.flush(timeout=10), "the stored events were not sent in 10 s"
        taken = []
        with celery_app.connection_for_write() as connection:
            queue = connection.SimpleQueue(celery_app.conf.task_default_queue, no_ack=True)
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    return taken
                args, _kwargs, _embed = message.payload
                taken.append((message.headers["task"], args))

    @staticmethod
    def run(message: tuple[str, list[Any]]) -> Any:
        """Run one message's task in this thread; what it returned (or raised)."""
        name, args = message
        return celery_app.tasks[name].apply(args=args).result


@pytest.fixture
def task_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[TaskQueue]:
    """Each stored event is sent in a message of its own, so what a test takes does not depend
    on timing (tests/billing/test_batching.py tests the batches)."""
    monkeypatch.setattr(batching, "BATCH_SIZE", 1)
    queue = TaskQueue()
    celery_app.conf.task_always_eager = False
    try:
        queue.drain()  # whatever an earlier test left
        yield queue
    finally:
        queue.drain()
        celery_app.conf.task_always_eager = True
