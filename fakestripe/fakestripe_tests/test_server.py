from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import stripe

from fakestripe import FakeStripe
from fakestripe.bench import run as run_bench

from .conftest import SRC, contract_problems
from .helpers import receiver

SEED = {
    "meters": [
        {
            "display_name": "API calls",
            "event_name": "api_call",
            "default_aggregation": {"formula": "sum"},
        }
    ],
    "products": [
        {
            "name": "Pro",
            "metadata": {"tier": "pro"},
            "prices": [
                {
                    "lookup_key": "pro_monthly",
                    "unit_amount": 1500,
                    "currency": "usd",
                    "recurring": {"interval": "month"},
                },
                {
                    "lookup_key": "api_calls",
                    "unit_amount_decimal": "0.5",
                    "currency": "usd",
                    "recurring": {
                        "interval": "month",
                        "usage_type": "metered",
                        "meter": "api_call",
                    },
                },
            ],
        },
    ],
}


def control(
    url: str,
    key: str,
    method: str,
    path: str,
    data: dict[str, str] | None = None,
    auth: bool = True,
) -> tuple[int, Any]:
    body = "&".join(f"{k}={v}" for k, v in (data or {}).items()).encode() if data else None
    req = urllib.request.Request(url + path, data=body, method=method)
    if auth:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_refuses_non_loopback_hosts_and_bad_keys() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        with pytest.raises(ValueError):
            FakeStripe(host=host)
    with pytest.raises(ValueError):
        FakeStripe(api_key="sk_test_short")
    fake = FakeStripe()
    assert fake.api_key.startswith("sk_test_") and len(fake.api_key) >= 8 + 24
    with pytest.raises(RuntimeError):
        _ = fake.url


def test_starts_fast_and_stops() -> None:
    began = time.perf_counter()
    with FakeStripe() as fake:
        elapsed = time.perf_counter() - began
        assert elapsed < 0.5
        assert fake.url.startswith("http://127.0.0.1:") and fake.port > 0
        status, body = control(fake.url, fake.api_key, "GET", "/v1/account")
        assert status == 200 and body["object"] == "account"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{fake.port}/v1/account", timeout=2)


def test_stripe_client_and_seed() -> None:
    with FakeStripe(seed=SEED, record_responses=True) as fake:
        client = stripe.StripeClient(fake.api_key, base_addresses=fake.base_addresses())
        prices = client.v1.prices.list({"lookup_keys": ["pro_monthly", "api_calls"]})
        by_key = {p.lookup_key: p for p in prices.data}
        assert by_key["pro_monthly"].unit_amount == 1500
        meter_id = by_key["api_calls"].recurring.meter
        assert client.v1.billing.meters.retrieve(meter_id).event_name == "api_call"
        account = client.v1.accounts.retrieve_current()
        fake.reset()
        assert client.v1.accounts.retrieve_current().id == account.id
        assert len(client.v1.prices.list().data) == 2
        assert client.v1.customers.list().data == []
        assert not contract_problems(fake)


def test_control_routes(fake: FakeStripe) -> None:
    url, key = fake.url, fake.api_key
    status, body = control(url, key, "GET", "/_fake/now", auth=False)
    assert status == 401
    status, body = control(url, key, "GET", "/_fake/now")
    start = body["now"]
    status, body = control(url, key, "POST", "/_fake/advance", {"days": "2", "hours": "1"})
    assert status == 200 and body["now"] >= start + 2 * 86400 + 3600
    assert fake.now() >= body["now"]
    with receiver() as r:
        stripe.WebhookEndpoint.create(url=r.url, enabled_events=["customer.created"])
        assert control(url, key, "POST", "/_fake/hold")[0] == 200
        stripe.Customer.create(email="one@example.com")
        stripe.Customer.create(email="two@example.com")
        status, body = control(url, key, "GET", "/_fake/pending")
        assert body["held"] == 2
        status, body = control(url, key, "POST", "/_fake/release", {"order": "reverse"})
        assert body["released"] == 2
        status, body = control(url, key, "POST", "/_fake/wait_idle", {"timeout": "5"})
        assert body["idle"] is True
        assert [e["data"]["object"]["email"] for e in r.events()] == [
            "two@example.com",
            "one@example.com",
        ]
        status, body = control(url, key, "GET", "/_fake/deliveries")
        assert [d["status"] for d in body["data"]] == [200, 200]
        assert control(url, key, "POST", "/_fake/duplicate_next", {"n": "1"})[0] == 200
        control(url, key, "POST", "/_fake/reorder", {"mode": "none"})
        stripe.Customer.create(email="three@example.com")
        control(url, key, "POST", "/_fake/wait_idle")
        assert len(r.requests) == 4
    status, body = control(url, key, "POST", "/_fake/reset")
    assert status == 200
    assert stripe.Customer.list().data == []
    assert stripe.Event.list().data == []


def test_process_mode(tmp_path: Path) -> None:
    seed = tmp_path / "plans.json"
    seed.write_text(json.dumps(SEED))
    env = dict(os.environ, PYTHONPATH=str(SRC))
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakestripe", "--port", "0", "--seed-plans", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert time.perf_counter() - began < 5
        assert first.startswith("FAKESTRIPE_URL=http://127.0.0.1:")
        url = first.split("=", 1)[1]
        key_line = proc.stdout.readline().strip()
        key = key_line.split("=", 1)[1]
        status, body = control(url, key, "GET", "/v1/prices?lookup_keys[0]=pro_monthly")
        assert status == 200 and body["data"][0]["unit_amount"] == 1500
        status, body = control(
            url, "sk_test_" + "x" * 24, "POST", "/v1/customers", {"email": "p%40example.com"}
        )
        assert status == 200 and body["email"] == "p@example.com"
        status, body = control(url, key, "POST", "/_fake/advance", {"days": "1"})
        assert status == 200
        assert list(tmp_path.iterdir()) == [seed]  # writes no files
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_process_mode_sigint_and_webhook_flag(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    with receiver() as r:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fakestripe",
                "--webhook",
                r.url,
                "--webhook-secret",
                "whsec_fixed_for_tests",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip().split("=", 1)[1]
            key = proc.stdout.readline().strip().split("=", 1)[1]
            hook = proc.stdout.readline().strip()
            assert hook.startswith("FAKESTRIPE_WEBHOOK=we_") and hook.endswith(
                "whsec_fixed_for_tests"
            )
            control(url, key, "POST", "/v1/customers", {"email": "w%40example.com"})
            assert r.wait_for(1)
            headers, body = r.requests[0]
            event = stripe.Webhook.construct_event(
                body, headers["Stripe-Signature"], "whsec_fixed_for_tests"
            )
            assert event.type == "customer.created"
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0


def test_bench_smoke() -> None:
    rows = run_bench(requests=20, preload=30)
    assert [label for label, _, _ in rows] == [
        "create customer",
        "create subscription",
        "create customer",
        "create subscription",
    ]
    assert all(rate > 0 for _, _, rate in rows)
    assert rows[2][1] > rows[0][1]


def test_reset_clears_clock_listeners_and_data(fake: FakeStripe) -> None:
    calls: list[bytes] = []
    fake.add_listener(lambda body, headers: calls.append(body) or 200)
    _, secret = fake.add_webhook_endpoint("http://127.0.0.1:9/unused", ["invoice.paid"])
    real_now = fake.now()
    fake.advance(days=10)
    stripe.Customer.create()
    fake.reset()
    assert fake.now() < real_now + 86400
    assert stripe.Customer.list().data == []
    stripe.Customer.create()
    assert fake.deliver() == [] and calls == []
    endpoints = stripe.WebhookEndpoint.list().data
    assert [e.url for e in endpoints] == ["http://127.0.0.1:9/unused"]
    assert secret.startswith("whsec_")


def test_a_saved_state_comes_back_as_it_was_each_time_it_is_restored(fake: FakeStripe) -> None:
    calls: list[bytes] = []
    fake.add_listener(lambda body, headers: calls.append(body) or 200)
    product = stripe.Product.create(name="Pro")
    price = stripe.Price.create(
        product=product.id, unit_amount=900, currency="usd", recurring={"interval": "month"}
    )
    fake.advance(days=3)
    saved = fake.save_state()
    saved_now = fake.now()
    for _ in range(2):
        customer = stripe.Customer.create(payment_method="pm_card_visa")
        stripe.Subscription.create(
            customer=customer.id,
            items=[{"price": price.id}],
            default_payment_method="pm_card_visa",
        )
        stripe.Product.modify(product.id, name="Renamed")
        fake.advance(days=40)
        fake.restore_state(saved)
        assert stripe.Customer.list().data == []
        assert stripe.Subscription.list().data == []
        assert stripe.Product.retrieve(product.id).name == "Pro"
        assert [p.id for p in stripe.Price.list().data] == [price.id]
        assert saved_now <= fake.now() < saved_now + 60
        # The events of the replaced data are not delivered; the listener still receives.
        calls.clear()
        assert fake.deliver() == []
    stripe.Product.modify(product.id, name="Again")
    assert [d.event_type for d in fake.deliver()] == ["product.updated"] and len(calls) == 1


def test_wall_clock_ticker_runs_due_work() -> None:
    with FakeStripe(tick_interval=0.05) as fake:
        client = stripe.StripeClient(fake.api_key, base_addresses=fake.base_addresses())
        price = client.v1.prices.create(
            {
                "product_data": {"name": "Tick"},
                "unit_amount": 100,
                "currency": "usd",
                "recurring": {"interval": "month"},
            }
        )
        cus = client.v1.customers.create(
            {
                "payment_method": "pm_card_visa",
                "invoice_settings": {"default_payment_method": "pm_card_visa"},
            }
        )
        sub = client.v1.subscriptions.create(
            {"customer": cus.id, "items": [{"price": price.id}], "trial_end": fake.now() + 1}
        )
        assert sub.status == "trialing"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            current = fake.get(sub.id)
            if current is not None and current["status"] == "active":
                break
            time.sleep(0.05)
        current = fake.get(sub.id)
        assert current is not None and current["status"] == "active"


def test_stripe_module_points_stripe_at_the_fake_and_restores_it():
    import stripe

    before = (stripe.api_base, stripe.meter_events_api_base, stripe.api_key)
    with FakeStripe() as fake, fake.stripe_module(stripe, max_network_retries=0):
        assert stripe.api_base == stripe.meter_events_api_base == fake.url
        assert stripe.api_key == fake.api_key and stripe.max_network_retries == 0
        assert stripe.Customer.create(email="a@example.com").id.startswith("cus_")
    assert (stripe.api_base, stripe.meter_events_api_base, stripe.api_key) == before


def test_process_mode_account_name(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC), FAKESTRIPE_ACCOUNT_NAME="From Env")
    for args, expected in (([], "From Env"), (["--account-name", "Northwind"], "Northwind")):
        proc = subprocess.Popen(
            [sys.executable, "-m", "fakestripe", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip().split("=", 1)[1]
            key = proc.stdout.readline().strip().split("=", 1)[1]
            status, body = control(url, key, "GET", "/v1/account")
            assert status == 200 and body["business_profile"]["name"] == expected
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0


def test_seed_coupons_and_promotion_codes() -> None:
    seed = {
        "coupons": [
            {
                "id": "LAUNCH",
                "percent_off": 20,
                "duration": "repeating",
                "duration_in_months": 3,
                "promotion_codes": [{"code": "LAUNCH20"}, {"code": "OLD", "active": False}],
            }
        ]
    }
    with FakeStripe(seed=seed, record_responses=True) as fake:
        created = fake.load_seed({"coupons": [{"amount_off": 500, "currency": "usd"}]})
        client = stripe.StripeClient(fake.api_key, base_addresses=fake.base_addresses())
        coupon = client.v1.coupons.retrieve("LAUNCH")
        assert (coupon.percent_off, coupon.duration_in_months) == (20.0, 3)
        codes = client.v1.promotion_codes.list({"coupon": "LAUNCH"}).data
        assert {(c.code, c.active) for c in codes} == {("LAUNCH20", True), ("OLD", False)}
        assert len(created) == 1 and client.v1.coupons.list().data[0].amount_off == 500
        assert not contract_problems(fake)
