from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def project(request: HttpRequest) -> dict[str, Any]:
    return {"PROJECT_NAME": settings.PROJECT_NAME}
