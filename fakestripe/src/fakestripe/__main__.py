from __future__ import annotations

# ``python -m fakestripe``: the fake as a process (see USAGE).
import argparse
import json
import signal
import sys
import threading
from types import FrameType

from .server import FakeStripe

USAGE = """``python -m fakestripe``: run the fake as a process.

Prints ``FAKESTRIPE_URL=http://127.0.0.1:PORT`` as its first line, then serves until
SIGINT/SIGTERM.

Seed file (``--seed-plans``) format::

    {
      "meters": [{"display_name": "API calls", "event_name": "api_call",
                  "default_aggregation": {"formula": "sum"}}],
      "products": [
        {"name": "Pro", "metadata": {"tier": "pro"},
         "prices": [
           {"lookup_key": "pro_monthly", "unit_amount": 1500, "currency": "usd",
            "recurring": {"interval": "month"}},
           {"lookup_key": "api_calls", "unit_amount_decimal": "0.5", "currency": "usd",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": "api_call"}}
         ]}
      ],
      "coupons": [{"id": "LAUNCH", "percent_off": 20, "duration": "forever",
                   "promotion_codes": [{"code": "LAUNCH20"}]}],
      "webhook_endpoints": [{"url": "http://127.0.0.1:8000/stripe/webhook/",
                             "enabled_events": ["*"], "secret": "whsec_..."}]
    }

A top-level JSON list is read as the list of products. ``recurring.meter`` may name a
meter by its ``event_name``.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fakestripe",
        description=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1/localhost")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--seed-plans", metavar="JSON_FILE", help="products/prices/meters")
    parser.add_argument("--api-key", help="key printed for clients (any sk_test_ key works)")
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="register a webhook endpoint for all events (repeatable)",
    )
    parser.add_argument("--webhook-secret", help="whsec_ secret for --webhook endpoints")
    parser.add_argument(
        "--account-name",
        help="business name on hosted pages and invoices "
        "(default: $FAKESTRIPE_ACCOUNT_NAME, else 'Test account')",
    )
    args = parser.parse_args(argv)

    seed = None
    if args.seed_plans:
        with open(args.seed_plans, encoding="utf-8") as fh:
            seed = json.load(fh)
    # Handlers first: whoever reads the printed lines may signal the process at once.
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    fake = FakeStripe(
        args.host, args.port, api_key=args.api_key, seed=seed, account_name=args.account_name
    )
    fake.start()
    print(f"FAKESTRIPE_URL={fake.url}", flush=True)
    print(f"FAKESTRIPE_API_KEY={fake.api_key}", flush=True)
    for url in args.webhook:
        endpoint_id, secret = fake.add_webhook_endpoint(url, ("*",), args.webhook_secret)
        print(f"FAKESTRIPE_WEBHOOK={endpoint_id} {url} {secret}", flush=True)

    while not stop.wait(0.5):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
