from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["home", "billing:pricing", "account_login", "account_signup"])
def test_public_pages_render(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"<html" in response.content


def test_dashboard_requires_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_dashboard_shows_no_subscription(client, user):
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert b"have a subscription yet" in response.content


def test_pages_have_a_favicon(client):
    html = client.get(reverse("home")).content.decode()
    assert 'rel="icon"' in html and "favicon.svg" in html


def test_unlimited_limits_read_unlimited(client, settings):
    from django.template.loader import render_to_string

    plan = {"name": "Scale", "price": 99, "price_id": "price_x", "limits": {"team_members": None}}
    html = render_to_string("billing/pricing.html", {"plans": [plan]})
    assert "Unlimited team members" in html and "None" not in html
