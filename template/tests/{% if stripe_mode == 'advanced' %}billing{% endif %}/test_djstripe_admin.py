"""dj-stripe's admin pages: none shows the Stripe secret key (dj-stripe's change pages list every
property of a model read-only, its `default_api_key`, the key in use, included, to any staff
member who may view the model), and none holds inline code the Content-Security-Policy refuses
(the project overrides dj-stripe's templates that had some).

Every dj-stripe model the admin registers gets a row, so every change page is opened."""

from __future__ import annotations

import datetime
import itertools
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from djstripe.models import Customer, WebhookEndpoint

from tests.csp_checks import refused_inline_code

pytestmark = pytest.mark.django_db

#: A secret key the page bodies are searched for (test mode, so STRIPE_LIVE_MODE stays false).
SECRET_KEY = "sk_test_" + "Zq7SecretKeyNeverShownInAdmin0042"
_serial = itertools.count(1)


def djstripe_models() -> list[type[models.Model]]:
    return sorted(
        (model for model in admin.site._registry if model._meta.app_label == "djstripe"),
        key=lambda model: model.__name__,
    )


#: Stripe fields that dj-stripe's __str__ methods read from `stripe_data`, with valid values.
STRIPE_DATA = {
    "amount": 2900,
    "currency": "usd",
    "filename": "receipt.pdf",
    "url": "https://files.example.com/receipt.pdf",
}
STRIPE_DATA_OF = {
    "BalanceTransaction": {"status": "available"},
    "Dispute": {"status": "won", "reason": "fraudulent"},
}
#: Model fields whose first valid value is not one a page can show (a balance transaction's
#: type names the model of its source; an event's customer is looked up from its object).
FIELDS_OF: dict[str, dict[str, Any]] = {
    "BalanceTransaction": {"type": "charge"},
    "Event": {"data": {"object": {"object": "balance"}}},
}


def value_for(field: models.Field) -> Any:
    """A value the database accepts for a required field, with no meaning beyond that."""
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return datetime.date.today()
    if isinstance(field, models.DecimalField):
        return Decimal(1)
    if isinstance(field, models.IntegerField | models.FloatField):
        return 1
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.GenericIPAddressField):
        return "192.0.2.1"
    return f"x{next(_serial)}"


def row_of(model: Any, made: dict[type[models.Model], models.Model]) -> models.Model:
    """One row of `model`, its required relations created first (one row per model)."""
    if model in made:
        return made[model]
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if isinstance(field, models.AutoField) or field.null or field.has_default():
            continue
        if field.primary_key:
            values[field.attname] = f"{model.__name__.lower()}_{next(_serial):06d}"
        elif field.is_relation:
            values[field.name] = row_of(field.related_model, made)
        elif field.get_default() is None or field.choices:
            values[field.name] = value_for(field)
    values.update(FIELDS_OF.get(model.__name__, {}))
    if hasattr(model, "stripe_data"):
        values["stripe_data"] = {
            "id": values.get("id", ""),
            "object": model.__name__.lower(),
            **STRIPE_DATA,
            **STRIPE_DATA_OF.get(model.__name__, {}),
        }
    row = made[model] = model.objects.create(**values)
    if hasattr(model, "stripe_data"):
        fill_what_properties_read(row)
    return row


def fill_what_properties_read(row: Any) -> None:
    """dj-stripe's properties read many Stripe fields straight from `stripe_data`: give each one
    they ask for a value (None), so the change page renders as it would with Stripe's data."""
    properties = [name for name in dir(type(row)) if isinstance(getattr(type(row), name), property)]
    for _ in range(100):
        missing = None
        for name in properties:
            try:
                getattr(row, name)
            except KeyError as exc:
                missing = exc.args[0]
                break
            except Exception:  # noqa: BLE001, S112  (the admin shows these as empty)
                continue
        if missing is None or missing in row.stripe_data:
            break
        row.stripe_data[missing] = None
    row.save()


@pytest.fixture
def every_djstripe_row() -> dict[type[models.Model], models.Model]:
    made: dict[type[models.Model], models.Model] = {}
    for model in djstripe_models():
        row_of(model, made)
    return made


@pytest.fixture
def viewer(django_user_model: Any) -> Client:
    """Staff with the view permission of every dj-stripe model, and nothing else."""
    staff = django_user_model.objects.create_user(
        email="viewer@example.com", password="x", is_staff=True
    )
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="djstripe", codename__startswith="view_")
    )
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def secret_key_in_use(settings: Any) -> str:
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_TEST_SECRET_KEY = settings.STRIPE_LIVE_SECRET_KEY = SECRET_KEY
    return SECRET_KEY


def assert_no_secret(body: bytes, url: str) -> None:
    text = body.decode()
    # The whole key, and any long piece of it (a masked or truncated rendering).
    assert SECRET_KEY not in text, url
    assert SECRET_KEY[8:24] not in text, url
    assert SECRET_KEY[-12:] not in text, url


def test_every_djstripe_admin_gets_a_row(every_djstripe_row):
    assert set(djstripe_models()) <= set(every_djstripe_row)
    assert len(djstripe_models()) >= 30


def test_no_change_page_or_list_shows_the_secret_key(every_djstripe_row, viewer, secret_key_in_use):
    opened = 0
    for model in djstripe_models():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = viewer.get(changelist)
        assert response.status_code == 200, changelist
        assert_no_secret(response.content, changelist)
        row = every_djstripe_row[model]
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
        response = viewer.get(change)
        assert response.status_code == 200, change
        assert_no_secret(response.content, change)
        opened += 1
    assert opened == len(djstripe_models())


def test_the_key_would_be_there_without_the_project_admin(every_djstripe_row, secret_key_in_use):
    """What the test above guards against: dj-stripe's own admin lists the property."""
    from djstripe.admin.admin import CustomerAdmin

    from apps.billing.admin import SECRET_FIELDS

    customer = every_djstripe_row[Customer]
    fields = CustomerAdmin(Customer, admin.site).get_readonly_fields(None, customer)
    assert SECRET_FIELDS & set(fields)
    assert customer.default_api_key == SECRET_KEY


def assert_no_inline_code(response: Any) -> None:
    assert response.status_code == 200, response.wsgi_request.path
    assert refused_inline_code(response.content.decode()) == [], response.wsgi_request.path


def test_no_change_page_holds_inline_code(every_djstripe_row, admin_client):
    for model, row in every_djstripe_row.items():
        if model in admin.site._registry:
            opts = model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
            assert_no_inline_code(admin_client.get(url))


def test_the_action_confirmation_page_holds_no_inline_code(every_djstripe_row, admin_client):
    customer = every_djstripe_row[Customer]
    response = admin_client.post(
        reverse("admin:djstripe_customer_changelist"),
        {"action": "_resync_instances", "_selected_action": [customer.pk]},
    )
    assert b"form_custom_action" in response.content
    assert_no_inline_code(response)


def test_the_webhook_endpoint_deletion_page_holds_no_inline_code(every_djstripe_row, admin_client):
    endpoint = every_djstripe_row[WebhookEndpoint]
    url = reverse("admin:djstripe_webhookendpoint_delete", args=[endpoint.pk])
    response = admin_client.get(url)
    assert b"will also be deleted from Stripe" in response.content
    assert_no_inline_code(response)
