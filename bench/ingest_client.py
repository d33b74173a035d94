"""A bounded load client: POSTs signed Stripe events to a webhook URL on loopback.

Run with the generated project's Python (it only needs the standard library):
    python ingest_client.py URL SECRET PAIRS_JSON --events 3000 --runs 3 --threads 8
PAIRS_JSON is a file holding [[customer_id, subscription_id], ...]: events update these
subscriptions in turn, as Stripe's traffic spreads over many customers.
After a warm-up (workers import and connect on their first requests), it times several runs
and prints one JSON line: {"events": N, "runs": [R, ...], "events_per_second": median of the
runs, "statuses": {...}} (every status counted, the warm-up's excepted).
With --record FILE (end-to-end runs: one run, no warm-up), it also writes when each request
was sent, as {subscription_id: unix time}, for the time from delivery to applied state; with
--rate R it sends R events per second at most.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import socket
import statistics
import threading
import time
from collections import Counter
from urllib.parse import SplitResult, urlsplit


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


class Connection:
    """One keep-alive HTTP/1.1 connection sending prepared requests: the client's own CPU is
    part of the machine's budget, so it does as little per request as it can."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def request(self, raw: bytes) -> int:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        self.buffer = self.buffer[length:]
        if headers.get("connection") == "close":
            self.close()
        return status

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def prepared(target: SplitResult, body: bytes, signature: str) -> bytes:
    head = (
        f"POST {target.path} HTTP/1.1\r\n"
        f"Host: {target.netloc}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Stripe-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


def blast(
    target: SplitResult,
    requests: list[bytes],
    threads: int,
    timeout: float,
    sent: list[float] | None = None,
    rate: float = 0.0,
) -> tuple[float, Counter[int]]:
    """Send every request once from `threads` keep-alive connections; (seconds, statuses).
    With `sent` (as long as `requests`), the time each request was sent is written into it.
    With `rate`, request i is not sent before i / rate seconds from the start (paced, as
    Stripe's traffic is), else as fast as the server answers."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    next_index = iter(range(len(requests)))
    deadline = time.monotonic() + timeout
    start = time.monotonic()

    def worker() -> None:
        conn = Connection(target.hostname or "127.0.0.1", target.port or 80)
        counts: Counter[int] = Counter()
        while time.monotonic() < deadline:
            index = next(next_index, None)  # a builtin call: atomic under the GIL
            if index is None:
                break
            if rate:
                time.sleep(max(0.0, start + index / rate - time.monotonic()))
            if sent is not None:
                sent[index] = time.time()
            try:
                counts[conn.request(requests[index])] += 1
            except (OSError, ValueError, IndexError):
                counts[0] += 1
                conn.close()
        conn.close()
        with lock:
            statuses.update(counts)

    started = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return time.perf_counter() - started, statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("secret")
    parser.add_argument("pairs_file")
    parser.add_argument("--events", type=int, default=3000, help="events per timed run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the median is reported")
    parser.add_argument("--warmup", type=int, default=200, help="events sent before timing")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--record", help="write when each event was sent (one run, no warm-up)")
    parser.add_argument("--rate", type=float, default=0.0, help="events per second (0: no limit)")
    args = parser.parse_args()
    if args.record:
        args.runs, args.warmup = 1, 0

    target = urlsplit(args.url)
    run = str(int(time.time() * 1000))
    with open(args.pairs_file) as handle:
        pairs = json.load(handle)
    total = args.warmup + args.runs * args.events
    requests = [
        prepared(target, *signed(subscription_event(i, *pairs[i % len(pairs)], run), args.secret))
        for i in range(total)
    ]
    blast(target, requests[: args.warmup], args.threads, args.timeout)
    rates, statuses = [], Counter[int]()
    sent = [0.0] * args.events if args.record else None
    for number in range(args.runs):
        first = args.warmup + number * args.events
        seconds, counts = blast(
            target,
            requests[first : first + args.events],
            args.threads,
            args.timeout,
            sent,
            args.rate,
        )
        rates.append(round(sum(counts.values()) / seconds, 1))
        statuses.update(counts)
    if args.record and sent is not None:
        times = {pairs[i % len(pairs)][1]: at for i, at in enumerate(sent)}
        with open(args.record, "w") as handle:
            json.dump(times, handle)
    print(
        json.dumps(
            {
                "events": sum(statuses.values()),
                "runs": rates,
                "events_per_second": statistics.median(rates),
                "statuses": dict(statuses),
            }
        )
    )


if __name__ == "__main__":
    main()
