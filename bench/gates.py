"""Gated request cost: median time and SQL query count of one trivial view, undecorated and
under each gate the mode ships, with 0 and 1,000,000 prior usage records.

Runs with the generated project's Python in the project directory
(DJANGO_SETTINGS_MODULE=config.settings.test, DATABASE_URL=postgres://...). Prints JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import django

sys.path.insert(0, os.getcwd())
django.setup()

from apps.billing import decorators  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.messages.storage.fallback import FallbackStorage  # noqa: E402
from django.contrib.sessions.backends.base import SessionBase  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

CALLS = int(os.environ.get("BENCH_GATE_CALLS", "400"))
RECORDS = int(os.environ.get("BENCH_USAGE_RECORDS", "1000000"))


def trivial(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def measure(view: Callable[[HttpRequest], HttpResponse], user: Any) -> tuple[float, int, int]:
    factory = RequestFactory()

    def call() -> HttpResponse:
        request = factory.get("/bench/", HTTP_ACCEPT="application/json")
        request.user = user
        request.session = SessionBase()
        request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
        return view(request)

    for _ in range(20):  # warm up
        call()
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        status = call().status_code
    return statistics.median(samples) * 1e6, len(queries.captured_queries), status


def basic_mode() -> tuple[Any, dict[str, Any], Callable[[Any, int], None] | None]:
    from apps.billing.models import StripeCustomer, Subscription
    from django.conf import settings

    settings.BILLING_PLANS = [
        {"slug": "pro", "name": "Pro", "price_id": "price_gates_pro", "amount": 2900}
    ]
    user, _ = get_user_model().objects.get_or_create(email="gates@example.com")
    customer, _ = StripeCustomer.objects.get_or_create(
        user=user, defaults={"stripe_customer_id": "cus_gates000001"}
    )
    Subscription.objects.update_or_create(
        stripe_subscription_id="sub_gates000001",
        defaults={"customer": customer, "status": "active", "price_id": "price_gates_pro"},
    )
    gates = {
        "undecorated": None,
        "subscription_required": decorators.subscription_required,
        "plan_required": decorators.plan_required("pro"),
    }
    return user, gates, None  # basic mode has no usage records


def advanced_mode() -> tuple[Any, dict[str, Any], Callable[[Any, int], None] | None]:
    from apps.billing.models import PlanConfiguration
    from tests.billing import factories  # dj-stripe rows written directly, no Stripe calls

    user, _ = get_user_model().objects.get_or_create(email="gates@example.com")
    if not PlanConfiguration.objects.filter(slug="pro").exists():
        plan = factories.plan(
            "pro", features={"advanced_analytics": True}, limits={"api_calls": 10**12}
        )
        subscription = factories.subscription(user=user, plan=plan)
    else:
        subscription = factories.Subscription.objects.get(customer__subscriber=user)

    def add_usage_records(user: Any, count: int) -> None:
        from apps.billing.models import UsageRecord

        table = connection.ops.quote_name(UsageRecord._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (subscription_id, metric, quantity, timestamp, "
                "meter_event_name, stripe_customer_id) "
                "SELECT %s, 'api_calls', 1, now() - make_interval(secs => g), '', '' "
                "FROM generate_series(1, %s) AS g",
                [subscription.id, count],
            )
            cursor.execute(f"ANALYZE {table}")

    gates = {
        "undecorated": None,
        "subscription_required": decorators.subscription_required,
        "plan_required": decorators.plan_required("pro"),
        "feature_required": decorators.feature_required("advanced_analytics"),
        "usage_limit": decorators.usage_limit("api_calls"),
    }
    return user, gates, add_usage_records


def main() -> None:
    from django.conf import settings

    advanced = "djstripe" in settings.INSTALLED_APPS
    user, gates, add_usage_records = advanced_mode() if advanced else basic_mode()
    rows = []
    for records in (0, RECORDS):
        if records:
            if add_usage_records is None:
                break
            add_usage_records(user, records)
        for name, gate in gates.items():
            median_us, queries, status = measure(gate(trivial) if gate else trivial, user)
            rows.append(
                {
                    "gate": name,
                    "records": records,
                    "median_us": round(median_us, 1),
                    "queries": queries,
                    "status": status,
                }
            )
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
