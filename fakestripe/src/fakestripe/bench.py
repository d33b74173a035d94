from __future__ import annotations

# Throughput benchmark: ``python -m fakestripe.bench [--requests N] [--preload N]``.
#
# Starts ``python -m fakestripe`` as a separate process (so the client does not share the
# server's GIL) and talks to it over one raw keep-alive ``http.client`` connection, sending
# an ``Idempotency-Key`` with every POST as stripe-python does. Measures customer creation
# and subscription creation (each also creates an item, a paid invoice and five events)
# against an empty store, then again after preloading N customers and N subscriptions.
import argparse
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

CARD = {
    "payment_method": "pm_card_visa",
    "invoice_settings[default_payment_method]": "pm_card_visa",
}


class Client:
    def __init__(self, url: str, api_key: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/x-www-form-urlencoded",
        }

    def request(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        headers = dict(self.headers)
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        body = urlencode(params or {}) if method == "POST" else None
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = json.loads(resp.read())
        if resp.status != 200:
            raise RuntimeError(f"{path}: {resp.status} {data}")
        return data

    def post(self, path: str, params: dict[str, str]) -> Any:
        return self.request("POST", path, params)

    def stored(self) -> int:
        return int(self.request("GET", "/_fake/stats")["objects"])

    def close(self) -> None:
        self.conn.close()


def _customers(client: Client, n: int, tag: str) -> tuple[list[str], float]:
    ids = []
    began = time.perf_counter()
    for i in range(n):
        ids.append(client.post("/v1/customers", {"email": f"{tag}{i}@example.com", **CARD})["id"])
    return ids, time.perf_counter() - began


def _subscriptions(client: Client, customers: list[str], price: str) -> float:
    began = time.perf_counter()
    for cus in customers:
        client.post("/v1/subscriptions", {"customer": cus, "items[0][price]": price})
    return time.perf_counter() - began


def _start_server() -> tuple[subprocess.Popen[str], str, str]:
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakestripe", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip().split("=", 1)[1]
    key = proc.stdout.readline().strip().split("=", 1)[1]
    return proc, url, key


def run(requests: int = 1000, preload: int = 10000) -> list[tuple[str, int, float]]:
    """Return rows of (label, objects stored before the row, requests per second)."""
    rows: list[tuple[str, int, float]] = []
    proc, url, key = _start_server()
    try:
        client = Client(url, key)
        price = client.post(
            "/v1/prices",
            {
                "currency": "usd",
                "unit_amount": "1500",
                "recurring[interval]": "month",
                "product_data[name]": "Bench",
            },
        )["id"]
        before = client.stored()
        ids, seconds = _customers(client, requests, "a")
        rows.append(("create customer", before, requests / seconds))
        before = client.stored()
        seconds = _subscriptions(client, ids, price)
        rows.append(("create subscription", before, requests / seconds))
        if preload:
            more, _ = _customers(client, preload, "p")
            _subscriptions(client, more, price)
            before = client.stored()
            ids, seconds = _customers(client, requests, "b")
            rows.append(("create customer", before, requests / seconds))
            before = client.stored()
            seconds = _subscriptions(client, ids, price)
            rows.append(("create subscription", before, requests / seconds))
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakestripe.bench")
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per row")
    parser.add_argument("--preload", type=int, default=10000, help="customers+subscriptions")
    args = parser.parse_args(argv)
    print(f"{'operation':<22}{'objects stored':>16}{'req/s':>10}", flush=True)
    for label, objects, rate in run(args.requests, args.preload):
        print(f"{label:<22}{objects:>16,}{rate:>10,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
