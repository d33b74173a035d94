"""Where one webhook request's time goes: the ingest request, profiled in-process.

Runs with the generated project's Python, in the project directory, with the settings and
environment of the ingest benchmark (production settings, PostgreSQL, the broker):
    python profile_ingest.py SECRET PAIRS_JSON PATH [--events 300]
Posts signed customer.subscription.updated events through Django's full request handling
(middleware, the webhook view, the database, the enqueue) under cProfile, without HTTP or
gunicorn, and prints one JSON line: the mean microseconds per request, the share of the parts
(signature check, JSON, database, enqueue on the broker, calls to Stripe, the rest of Django)
and the functions
with the most time of their own.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from collections.abc import Callable

import django

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
django.setup()

from django.test import Client  # noqa: E402
from ingest_client import signed, subscription_event  # noqa: E402

#: Parts of a request, each the cumulative time of the functions that do it (none calls
#: another: a query's implicit BEGIN is inside `execute`).
PARTS = {
    "signature check (stripe)": [("_webhook.py", "verify_header")],
    "database (psycopg: queries, commits)": [
        ("psycopg/cursor.py", "execute"),
        ("psycopg/cursor.py", "executemany"),
        ("psycopg/connection.py", "commit"),
        ("psycopg/connection.py", "rollback"),
    ],
    "enqueue (celery apply_async, Redis)": [("celery/app/task.py", "apply_async")],
    "Stripe API calls (stripe-python)": [("stripe/_http_client.py", "request_with_retries")],
    "JSON decode": [("json/__init__.py", "loads")],
}


SENDER_PART = "enqueue (batches sent by the sender thread: celery, Redis)"


def sender_seconds() -> Callable[[], float | None]:
    """Start counting the CPU time of the project's webhook sender thread (`batching`): a
    function that waits until it has sent everything and returns the seconds counted (None
    when the project queues from the request itself)."""
    try:
        from apps.billing.tasks import webhook_batches
    except ImportError:
        return lambda: None
    spent = [0.0]
    send = webhook_batches._send

    def timed_send(batch: list[int]) -> object:
        started = time.thread_time()
        try:
            return send(batch)
        finally:
            spent[0] += time.thread_time() - started

    webhook_batches._send = timed_send

    def stop() -> float:
        webhook_batches.flush(timeout=60)
        webhook_batches._send = send
        return spent[0]

    return stop


def part_seconds(stats: pstats.Stats, functions: list[tuple[str, str]]) -> float:
    return sum(
        row[3]  # cumulative time
        for (filename, _, name), row in stats.stats.items()  # type: ignore[attr-defined]
        if any(filename.endswith(part) and name == function for part, function in functions)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("secret")
    parser.add_argument("pairs_file")
    parser.add_argument("path")
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    with open(args.pairs_file) as handle:
        pairs = json.load(handle)
    client = Client(HTTP_HOST="127.0.0.1")
    run = f"profile{int(time.time() * 1000)}"
    bodies = [
        signed(subscription_event(i, *pairs[i % len(pairs)], run), args.secret)
        for i in range(args.events + 20)
    ]

    def post(body: bytes, signature: str) -> int:
        response = client.post(
            args.path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
        return response.status_code

    statuses = [post(*body) for body in bodies[:20]]  # warm-up: imports, connections
    sender = sender_seconds()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    statuses += [post(*body) for body in bodies[20:]]
    profiler.disable()
    wall = time.perf_counter() - started
    sent = sender()
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    parts = {name: part_seconds(stats, where) for name, where in PARTS.items()}
    if sent is not None:
        # The batches leave from the sender thread, which cProfile does not see: its CPU time.
        parts[SENDER_PART] = sent
        total += sent
    parts["the rest (Django, middleware, the view, logging)"] = total - sum(parts.values())
    rows = stats.stats.items()  # type: ignore[attr-defined]
    own = sorted(rows, key=lambda item: item[1][2], reverse=True)[:12]
    print(
        json.dumps(
            {
                "events": args.events,
                "statuses": sorted(set(statuses)),
                "us_per_request": round(wall / args.events * 1e6),
                "us_per_request_profiled": round(total / args.events * 1e6),
                "parts_percent": {k: round(100 * v / total, 1) for k, v in parts.items()},
                "top_own_time": [
                    {
                        "function": f"{os.path.basename(filename)}:{line}({name})",
                        "us_per_request": round(row[2] / args.events * 1e6, 1),
                    }
                    for (filename, line, name), row in own
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
