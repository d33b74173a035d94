"""Plans from Stripe: djstripe_sync_models and billing_sync_plans against the offline Stripe."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import stripe
from django.core.management import call_command
from djstripe.models import Price, Product

from apps.billing.models import PlanConfiguration

from . import factories

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("billing_sync_plans", *args, stdout=out)
    return out.getvalue()


def test_djstripe_sync_models_product_price(stripe_fake):
    """The documented `python manage.py djstripe_sync_models Product Price`."""
    price = factories.stripe_monthly_price("Pro", 2900)
    out, err = StringIO(), StringIO()
    call_command("djstripe_sync_models", "Product", "Price", stdout=out, stderr=err)
    assert "Failed" not in err.getvalue() and "Error" not in err.getvalue(), err.getvalue()
    assert Product.objects.get(id=price.product).name == "Pro"
    assert Price.objects.get(id=price.id).unit_amount == 2900


def test_sync_plans_builds_plans_from_product_metadata(stripe_fake):
    catalog = factories.create_catalog()
    pro, enterprise, usage = catalog["pro"], catalog["enterprise"], catalog["usage"]
    assert list(PlanConfiguration.objects.values_list("slug", flat=True)) == [
        "pro",
        "enterprise",
        "usage",
    ]
    assert pro.name == "Pro" and pro.is_popular and not enterprise.is_popular
    assert pro.features == factories.PRO_FEATURES
    assert pro.limits == factories.PRO_LIMITS
    assert pro.stripe_price.unit_amount == 2900
    assert not pro.is_metered
    assert usage.is_metered
    assert usage.metered_metric == "api_calls" and usage.meter_event_name == "api_calls"
    assert usage.stripe_price.unit_amount == 1000
    assert usage.metered_price.recurring["usage_type"] == "metered"


def test_sync_plans_is_idempotent_and_keeps_admin_edits(stripe_fake):
    factories.create_catalog()
    PlanConfiguration.objects.filter(slug="pro").update(features={"edited": True})
    before = list(PlanConfiguration.objects.values())
    output = run()
    assert output.count("kept") == 3
    assert list(PlanConfiguration.objects.values()) == before


def test_sync_plans_update_refreshes_from_stripe(stripe_fake):
    catalog = factories.create_catalog()
    PlanConfiguration.objects.filter(slug="pro").update(features={"edited": True})
    stripe.Product.modify(
        catalog["pro"].stripe_product_id,
        metadata={"limits": json.dumps({"api_calls": 20000})},
        api_key=stripe_fake.api_key,
    )
    output = run("--sync", "--update")
    assert "Synced 3 products and 4 prices" in output
    assert output.count("updated") == 3
    pro = PlanConfiguration.objects.get(slug="pro")
    assert pro.features == factories.PRO_FEATURES
    assert pro.limits == {"api_calls": 20000}


def test_products_without_metadata_get_sensible_defaults(stripe_fake):
    product = stripe.Product.create(name="Team Plan", api_key=stripe_fake.api_key)
    for amount in (4900, 3900):
        stripe.Price.create(
            product=product.id,
            unit_amount=amount,
            currency="usd",
            recurring={"interval": "month"},
            api_key=stripe_fake.api_key,
        )
    stripe.Product.create(name="One-off", api_key=stripe_fake.api_key)  # no price: no plan
    output = run("--sync")
    assert "skipped" in output and "no active recurring price" in output
    plan = PlanConfiguration.objects.get()
    assert (plan.slug, plan.name, plan.features, plan.limits) == ("team-plan", "Team Plan", {}, {})
    assert plan.stripe_price.unit_amount == 3900  # the cheapest, without a default price


def test_bad_metadata_is_ignored_with_defaults(stripe_fake):
    product = stripe.Product.create(
        name="Pro",
        metadata={"features": "{not json", "limits": "[1, 2]", "display_order": "first"},
        api_key=stripe_fake.api_key,
    )
    stripe.Price.create(
        product=product.id,
        unit_amount=100,
        currency="usd",
        recurring={"interval": "month"},
        api_key=stripe_fake.api_key,
    )
    output = run("--sync")
    assert "display_order is not an integer" in output
    plan = PlanConfiguration.objects.get()
    assert plan.features == {} and plan.limits == {}


def test_a_meter_that_does_not_sum_is_not_metered(stripe_fake):
    meter = stripe.billing.Meter.create(
        display_name="Seats",
        event_name="seats",
        default_aggregation={"formula": "last"},
        api_key=stripe_fake.api_key,
    )
    product = stripe.Product.create(name="Seats", api_key=stripe_fake.api_key)
    stripe.Price.create(
        product=product.id,
        currency="usd",
        unit_amount=500,
        recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
        api_key=stripe_fake.api_key,
    )
    output = run("--sync")
    assert "not metered (use a sum meter)" in output
    assert not PlanConfiguration.objects.get().is_metered


def test_sync_without_a_key_fails_clearly(settings, db):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(Exception, match="Stripe is not configured"):
        run("--sync")
