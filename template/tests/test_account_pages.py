"""The account pages read like the rest of the project: its layout, "Log in" and "Sign up",
its name in emails (not example.com), one message after sign-up, and friendly error pages."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.contrib.sites.models import Site
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "heading"),
    [
        ("account_signup", "Create your account"),
        ("account_login", "Log in"),
        ("account_reset_password", "Reset your password"),
    ],
)
def test_entrance_pages_use_one_wording(client, name, heading):
    html = client.get(reverse(name)).content.decode()
    assert f"<h1>{heading}</h1>" in html
    assert 'class="container auth"' in html  # the project's layout, one narrow column
    assert "Sign In" not in html and "Sign Up" not in html and "sign in" not in html


def test_log_out_says_log_out(client, user):
    client.force_login(user)
    html = client.get(reverse("account_logout")).content.decode()
    assert "<h1>Log out</h1>" in html and "Sign Out" not in html


def test_the_site_is_named_after_the_project():
    site = Site.objects.get(pk=settings.SITE_ID)
    assert site.name == settings.PROJECT_NAME and site.domain in settings.SITE_URL


def test_sign_up_says_one_thing_and_its_email_names_the_project(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert response.status_code == 302
    assert len(list(get_messages(response.wsgi_request))) == 1
    assert mail.outbox, "a confirmation email"
    body = mail.outbox[-1].subject + mail.outbox[-1].body
    assert settings.PROJECT_NAME in body and "example.com!" not in body


def test_a_missing_page_is_friendly(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_the_server_error_page_needs_no_context():
    from django.template.loader import render_to_string

    assert "Something went wrong" in render_to_string("500.html")
