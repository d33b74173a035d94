from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_users_log_in_with_their_email(user, client):
    assert client.login(email="alice@example.com", password="correct horse battery staple")
    assert get_user_model().USERNAME_FIELD == "email"


def test_email_is_unique(user, django_user_model):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        django_user_model.objects.create_user(email="alice@example.com", password="x")


def test_signup_creates_a_user_and_logs_them_in(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(email="new@example.com").exists()
    assert client.get(reverse("dashboard")).status_code == 200


def test_superuser_has_staff_rights(django_user_model):
    admin = django_user_model.objects.create_superuser(email="root@example.com", password="pw")
    assert admin.is_staff and admin.is_superuser


def test_account_emails_speak_in_the_projects_name(client, settings):
    from django.core import mail

    client.post(
        reverse("account_signup"),
        {
            "email": "named@example.com",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )
    assert mail.outbox, "the sign-up sends an email confirmation"
    body = mail.outbox[0].body
    assert settings.PROJECT_NAME in body
    assert "example.com!" not in body and "Hello from example.com" not in body
