from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .forms import DeleteAccountForm
from .services import close_account


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """Delete your account, after your password: billing stops at Stripe first."""
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        deleted = close_account(user)  # type: ignore[arg-type]
        logout(request)
        if deleted:
            messages.success(request, "Your account is deleted and your subscription canceled.")
        else:
            messages.warning(
                request,
                "Your account is closed and you will not be charged again; we are finishing "
                "the cancellation with Stripe and will delete your data shortly.",
            )
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})
