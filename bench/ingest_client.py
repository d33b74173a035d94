"""A bounded load client: POSTs signed Stripe events to a webhook URL on loopback.

Run with the generated project's Python (it only needs the standard library):
    python ingest_client.py URL SECRET PAIRS_JSON --events 3000 --threads 8
PAIRS_JSON is a file holding [[customer_id, subscription_id], ...]: events update these
subscriptions in turn, as Stripe's traffic spreads over many customers.
Prints one JSON line: {"events": N, "seconds": S, "events_per_second": R, "statuses": {...}}.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def signed(event: dict, secret: str) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return body, f"t={timestamp},v1={digest.hexdigest()}"


def subscription_event(index: int, customer: str, subscription: str, run: str) -> dict:
    now = int(time.time())
    return {
        "id": f"evt_bench_{run}_{index:07d}",
        "object": "event",
        "api_version": "2026-05-27.dahlia",
        "created": now,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "customer.subscription.updated",
        "data": {
            "object": {
                "id": subscription,
                "object": "subscription",
                "customer": customer,
                "status": "active",
                "cancel_at_period_end": index % 2 == 1,
                "created": now - 86400,
                "metadata": {},
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": "si_bench0001",
                            "object": "subscription_item",
                            "current_period_start": now - 86400,
                            "current_period_end": now + 29 * 86400,
                            "price": {"id": "price_bench_pro", "object": "price"},
                            "quantity": 1,
                        }
                    ],
                },
            }
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("secret")
    parser.add_argument("pairs_file")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    target = urlsplit(args.url)
    run = str(int(time.time() * 1000))
    with open(args.pairs_file) as handle:
        pairs = json.load(handle)
    payloads = [
        signed(subscription_event(i, *pairs[i % len(pairs)], run), args.secret)
        for i in range(args.events)
    ]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    next_index = iter(range(args.events))
    deadline = time.monotonic() + args.timeout

    def worker() -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            body, header = payloads[index]
            try:
                conn.request(
                    "POST",
                    target.path,
                    body=body,
                    headers={"Content-Type": "application/json", "Stripe-Signature": header},
                )
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            with lock:
                statuses[status] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    done = sum(statuses.values())
    print(
        json.dumps(
            {
                "events": done,
                "seconds": round(seconds, 3),
                "events_per_second": round(done / seconds, 1),
                "statuses": dict(statuses),
            }
        )
    )


if __name__ == "__main__":
    main()
