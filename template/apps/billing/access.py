"""How a gated view answers a request without access, in both billing modes: JSON for API
clients, the login page or the pricing page (with a message) for people."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.startswith("/api/")
        or request.content_type == "application/json"
        or ("application/json" in accept and "text/html" not in accept)
    )


def deny(
    request: HttpRequest,
    *,
    code: str,
    message: str,
    status: int = 403,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """The answer to a request without access: JSON for API clients, a redirect for people."""
    if wants_json(request):
        return JsonResponse({"error": code, "detail": message, **(extra or {})}, status=status)
    messages.info(request, message)
    return redirect("billing:pricing")


def login_required(request: HttpRequest) -> HttpResponse | None:
    """None for a logged-in user; else 401 JSON for API clients, the login page for people."""
    if request.user.is_authenticated:
        return None
    if wants_json(request):
        return JsonResponse(
            {"error": "authentication_required", "detail": "Log in first."}, status=401
        )
    return redirect_to_login(request.get_full_path())
