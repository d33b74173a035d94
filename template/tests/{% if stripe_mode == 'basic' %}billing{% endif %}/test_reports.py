"""The example gated view of basic mode: /reports/ needs a plan with advanced analytics."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_reports_open_for_a_plan_with_the_feature(client, user, subscribe):
    subscribe("pro")
    client.force_login(user)
    assert "Reports" in client.get(reverse("reports")).content.decode()


def test_reports_send_others_to_pricing(client, user):
    client.force_login(user)
    response = client.get(reverse("reports"))
    assert response.status_code == 302 and response["Location"] == reverse("billing:pricing")
