"""Hypothesis settings and strategies shared by the webhook fuzz tests of both modes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.stripe_events import sign


def fuzz(max_examples: int) -> settings:
    """Settings for fuzz tests that post to the webhook through the Django test client."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


#: Any JSON value: what a signed body may decode to.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@dataclass(frozen=True)
class WebhookTarget:
    """A billing mode's webhook endpoint under test: where it listens, the secret it checks
    signatures with, and how many rows deliveries have written so far."""

    url: str
    secret: str
    stored: Callable[[], int]

    def post(self, body: bytes, header: str | None) -> int:
        """POST to the webhook; a rejected request (400) must have written nothing."""
        before = self.stored()
        extra = {} if header is None else {"HTTP_STRIPE_SIGNATURE": header}
        response = Client().post(self.url, data=body, content_type="application/json", **extra)
        if response.status_code == 400:
            assert self.stored() == before
        return response.status_code

    def post_signed(self, body: bytes) -> int:
        """POST `body` signed as Stripe would sign it for this endpoint."""
        return self.post(body, sign(body, secret=self.secret))
