"""Whatever arrives unsigned, wrongly signed, empty or huge at the webhook is refused with 400
and writes nothing, in both modes (each mode's conftest gives its `webhook_target`)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import fuzz
from tests.stripe_events import sign

FUZZ = fuzz(150)  # as many examples as the most thorough mode had


@pytest.mark.django_db
@FUZZ
@given(body=st.binary(max_size=2048), header=st.none() | st.text(max_size=200))
def test_unsigned_garbage_is_rejected(webhook_target, body, header):
    assert webhook_target.post(body, header) == 400
    assert webhook_target.stored() == 0


@pytest.mark.django_db
@FUZZ
@given(
    body=st.binary(max_size=1024),
    offset=st.integers(min_value=-(10**6), max_value=10**6),
    secret=st.text(min_size=1, max_size=40),
)
def test_bad_signatures_and_timestamps_are_rejected(webhook_target, body, offset, secret):
    header = sign(body, secret=f"whsec_{secret}x", timestamp=int(time.time()) + offset)
    assert webhook_target.post(body, header) == 400
    assert webhook_target.stored() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("size", [0, 3 * 1024 * 1024])
def test_empty_and_huge_payloads_are_rejected(webhook_target, size):
    body = b"{" + b" " * max(size - 2, 0) + b"}" if size else b""
    assert webhook_target.post_signed(body) == 400
    assert webhook_target.stored() == 0
