from __future__ import annotations

# fakestripe: an offline, stateful fake of the Stripe API for development and tests.
#
# Standard library only. See ``FakeStripe`` for the Python API and ``python -m fakestripe``
# for the stand-alone server.
from ._engine import API_VERSION
from ._webhooks import Delivery, sign
from .server import PUBLISHABLE_KEY, FakeStripe, PageResult

__all__ = ["API_VERSION", "PUBLISHABLE_KEY", "Delivery", "FakeStripe", "PageResult", "sign"]
