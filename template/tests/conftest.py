from __future__ import annotations

from typing import Any

import pytest


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
