"""The billing models in the admin: lists, plan editing, and the outbox actions."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from apps.billing.emails import BillingEmail
from apps.billing.models import (
    IgnoredEvent,
    MeterReport,
    PlanConfiguration,
    SubscriptionMetadata,
    UsageCounter,
    UsageRecord,
)
from apps.billing.utils import record_usage

from . import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(email="admin@example.com", password="x")
    client.force_login(admin)
    return client


@pytest.mark.parametrize(
    "model",
    [
        PlanConfiguration,
        SubscriptionMetadata,
        UsageCounter,
        UsageRecord,
        MeterReport,
        BillingEmail,
        IgnoredEvent,
    ],
)
def test_changelists_render(admin_client, user, model):
    subscription = factories.subscription(user=user)
    record_usage(subscription, metric="api_calls", quantity=1)
    url = reverse(f"admin:billing_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200


def test_a_plan_can_be_edited(admin_client):
    plan = factories.plan("pro")
    url = reverse("admin:billing_planconfiguration_change", args=[plan.pk])
    assert admin_client.get(url).status_code == 200


def test_copying_a_plan_to_its_subscriptions(admin_client, user):
    plan = factories.plan("pro")
    subscription = factories.subscription(user=user, plan=plan)
    PlanConfiguration.objects.filter(pk=plan.pk).update(limits={"api_calls": 5})
    admin_client.post(
        reverse("admin:billing_planconfiguration_changelist"),
        {"action": "apply_to_subscriptions", "_selected_action": [plan.pk]},
    )
    assert SubscriptionMetadata.objects.get(subscription=subscription).usage_limits == {
        "api_calls": 5
    }


def test_sending_a_pending_email_from_the_admin(admin_client):
    email = BillingEmail.objects.create(
        stripe_event_id="evt_1",
        kind=BillingEmail.Kind.PAYMENT_FAILED,
        email="a@example.com",
        subject="Payment failed",
        body="Fix it at https://example.com/fix",
    )
    admin_client.post(
        reverse("admin:billing_billingemail_changelist"),
        {"action": "send_now", "_selected_action": [email.pk]},
    )
    assert len(mail.outbox) == 1 and "https://example.com/fix" in mail.outbox[0].body
    assert BillingEmail.objects.get().sent_at is not None
