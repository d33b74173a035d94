"""The billing models in the admin: lists, plan editing, the outbox actions, and failed Stripe
events with "Process again"."""

from __future__ import annotations

import json
import logging

import pytest
import stripe
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
    WebhookEvent,
)
from apps.billing.utils import record_usage
from tests.db_faults import refusing_inserts

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
        WebhookEvent,
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


def test_customers_no_user_is_linked_to_are_told_apart(caplog, stripe_fake, catalog):
    """Customers made outside the app (the Dashboard, an import) have no user: each one's own
    subscriptions are compared, never those of all such customers together."""
    options = {"api_key": stripe_fake.api_key}
    price = catalog["pro"].stripe_price_id

    def unlinked_customer() -> str:
        customer = stripe.Customer.create(email="nobody@example.com", **options)
        stripe.PaymentMethod.attach("pm_card_visa", customer=customer.id, **options)
        stripe.Customer.modify(
            customer.id, invoice_settings={"default_payment_method": "pm_card_visa"}, **options
        )
        return customer.id

    one, other = unlinked_customer(), unlinked_customer()
    stripe.Subscription.create(customer=one, items=[{"price": price}], **options)
    stripe.Subscription.create(customer=other, items=[{"price": price}], **options)
    with caplog.at_level(logging.ERROR, logger="apps.billing.services"):
        stripe_fake.deliver()
    assert not [r for r in caplog.records if r.levelno == logging.ERROR]  # one each

    second = stripe.Subscription.create(customer=one, items=[{"price": price}], **options)
    with caplog.at_level(logging.ERROR, logger="apps.billing.services"):
        stripe_fake.deliver()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all(e.startswith(f"Customer {one} has more than one") for e in errors)
    assert all(second.id in e for e in errors)


def test_a_second_live_subscription_is_logged_and_listed_for_staff(
    admin_client, caplog, user, other_user, stripe_fake, catalog
):
    """Two live subscriptions of one customer (made past checkout's guards, e.g. in the
    Dashboard): an error names both, staff find them with the filter, nothing is cancelled."""
    options = {"api_key": stripe_fake.api_key}
    customer = factories.stripe_customer(user=user)
    first = stripe.Subscription.create(
        customer=customer.id, items=[{"price": catalog["pro"].stripe_price_id}], **options
    )
    second = stripe.Subscription.create(
        customer=customer.id, items=[{"price": catalog["enterprise"].stripe_price_id}], **options
    )
    alone = factories.stripe_subscription(user=other_user, plan=catalog["pro"])
    with caplog.at_level(logging.ERROR, logger="apps.billing.services"):
        stripe_fake.deliver()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all(first.id in e and second.id in e for e in errors)
    assert not [e for e in errors if alone.id in e]

    url = reverse("admin:djstripe_subscription_changelist")
    page = admin_client.get(url).content.decode()
    assert "Customers with more than one live subscription" in page
    flagged = admin_client.get(url, {"live_subscriptions": "several"})
    assert flagged.status_code == 200
    shown = {obj.id for obj in flagged.context["cl"].result_list}
    assert shown == {first.id, second.id}
    # Nothing was cancelled on anyone's behalf: staff decide.
    for subscription in (first, second):
        assert stripe.Subscription.retrieve(subscription.id, **options).status == "active"


@pytest.fixture
def failed_event(stripe_fake, catalog, user, post_webhook):
    """An invoice.payment_failed event that failed to apply (the email table refused it)."""
    subscription = factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()
    factories.fail_next_payments(subscription.customer)
    stripe_fake.advance(days=31)
    body = json.dumps(stripe_fake.events("invoice.payment_failed")[-1]).encode()
    with refusing_inserts(BillingEmail._meta.db_table):
        assert post_webhook(body).status_code == 200
    stored = WebhookEvent.objects.get(type="invoice.payment_failed")
    assert stored.status == WebhookEvent.Status.FAILED
    return stored


def test_staff_find_a_failed_event_with_its_error_and_process_it_again(
    admin_client, failed_event, django_capture_on_commit_callbacks
):
    url = reverse("admin:billing_webhookevent_changelist")
    listed = admin_client.get(url, {"status__exact": "failed"})
    assert [event.pk for event in listed.context["cl"].result_list] == [failed_event.pk]
    page = admin_client.get(reverse("admin:billing_webhookevent_change", args=[failed_event.pk]))
    assert "insert into billing_billingemail refused" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"action": "process_again", "_selected_action": [failed_event.pk]})
    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.Status.PROCESSED
    assert len(mail.outbox) == 1


def test_dj_stripes_delivery_log_shows_the_traceback_and_processes_again(
    admin_client, failed_event, django_capture_on_commit_callbacks
):
    trigger = failed_event.trigger
    page = admin_client.get(reverse("admin:djstripe_webhookeventtrigger_change", args=[trigger.pk]))
    assert "Traceback" in page.content.decode() and "refused" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:djstripe_webhookeventtrigger_changelist"),
            {"action": "process_triggers_again", "_selected_action": [trigger.pk]},
        )
    trigger.refresh_from_db()
    assert trigger.processed and trigger.exception == ""
    assert WebhookEvent.objects.get(pk=failed_event.pk).status == WebhookEvent.Status.PROCESSED
    assert len(mail.outbox) == 1
