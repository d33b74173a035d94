"""The Content-Security-Policy (django-csp): strict on every page (scripts, styles and images
from this site only, no inline code), billing forms free to redirect to Stripe, and nothing in
the pages or the templates that the policy would refuse."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import reverse

from tests.csp_checks import refused_inline_code

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    "home",
    "billing:pricing",
    "account_login",
    "account_signup",
    "account_reset_password",
]
SIGNED_IN_PAGES = ["dashboard", "billing:subscription", "account_email", "account_change_password"]


def policy(response: HttpResponse) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


def nonce(response: HttpResponse) -> str | None:
    found = re.search(r"'nonce-([^']+)'", response.get("Content-Security-Policy", ""))
    return found.group(1) if found else None


def assert_strict_and_obeyed(response: HttpResponse) -> None:
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    for name in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in directives[name] and "'unsafe-eval'" not in directives[name]
    assert directives["object-src"] == directives["frame-ancestors"] == ["'none'"]
    html = response.content.decode()
    assert refused_inline_code(html, nonce=nonce(response)) == [], response.wsgi_request.path


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages(client, name):
    assert_strict_and_obeyed(client.get(reverse(name)))


@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_signed_in_pages(client, user, name):
    client.force_login(user)
    assert_strict_and_obeyed(client.get(reverse(name)))


def test_every_admin_list_and_add_page(admin_client):
    assert_strict_and_obeyed(admin_client.get(reverse("admin:index")))
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        assert_strict_and_obeyed(
            admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        )
        if model_admin.has_add_permission(admin_client.get("/").wsgi_request):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
            assert_strict_and_obeyed(admin_client.get(url))


def test_billing_forms_may_redirect_to_stripe_checkout_and_the_portal(client):
    """Browsers apply form-action to a form's redirects too: Checkout and the customer portal
    are on Stripe's hosts."""
    form_action = policy(client.get(reverse("billing:pricing")))["form-action"]
    assert form_action[:1] == ["'self'"]
    assert {"https://checkout.stripe.com", "https://billing.stripe.com"} <= set(form_action)


def test_in_development_they_may_redirect_to_the_offline_stripe():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(*s.CONTENT_SECURITY_POLICY['DIRECTIVES']['form-action'])"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "STRIPE_API_BASE": "http://127.0.0.1:12111/",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[-1] == "http://127.0.0.1:12111"


TEMPLATE_DIR = Path(django_settings.BASE_DIR) / "templates"


@pytest.mark.parametrize(
    "path",
    sorted(TEMPLATE_DIR.rglob("*.html")),
    ids=lambda path: str(path.relative_to(TEMPLATE_DIR)),
)
def test_templates_hold_no_inline_code(path):
    """Scripts and styles go in static files; a script that must be inline carries
    nonce="{{ request.csp_nonce }}"."""
    assert refused_inline_code(path.read_text(), nonce="{{ request.csp_nonce }}") == []
