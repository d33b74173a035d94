from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import current_team


def teams(request: HttpRequest) -> dict[str, Any]:
    """`current_team` for the navigation, read only by the pages that show it."""
    return {"current_team": SimpleLazyObject(lambda: current_team(request))}
