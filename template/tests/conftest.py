from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fakestripe import FakeStripe


@pytest.fixture
def user(db: Any, django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(
        email="alice@example.com", password="correct horse battery staple"
    )


@pytest.fixture
def other_user(db: Any, django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(
        email="bob@example.com", password="correct horse battery staple"
    )


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    """The offline Stripe (fakestripe), one server per test session, on 127.0.0.1."""
    with FakeStripe() as fake:
        yield fake
