from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.billing.checks import check_offline_stripe, check_stripe_settings
from apps.billing.plans import get_plans


def ids(messages):
    return [message.id for message in messages]


def test_valid_settings_pass():
    assert check_stripe_settings() == []


def test_a_publishable_key_in_the_secret_key_setting_is_an_error(settings):
    settings.STRIPE_SECRET_KEY = "pk_test_oops"
    assert ids(check_stripe_settings()) == ["billing.E001"]


@pytest.mark.parametrize(
    ("plans", "message"),
    [
        ([{"slug": "pro", "name": "Pro"}], "missing amount"),
        ([{"slug": "pro", "name": "Pro", "amount": "29"}], "integer in cents"),
        ([{"slug": "pro", "name": "Pro", "amount": 1, "price_id": "prod_1"}], "Stripe Price id"),
        (
            [{"slug": "a", "name": "A", "amount": 1}, {"slug": "a", "name": "B", "amount": 1}],
            "duplicate slugs",
        ),
    ],
)
def test_bad_plan_settings_are_reported_clearly(settings, plans, message):
    settings.BILLING_PLANS = plans
    with pytest.raises(ImproperlyConfigured, match=message):
        get_plans()
    assert ids(check_stripe_settings()) == ["billing.E003"]


def test_the_offline_stripe_is_refused_without_debug(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:12111"
    settings.DEBUG = False
    assert ids(check_offline_stripe()) == ["billing.E004"]
    settings.DEBUG = True
    assert check_offline_stripe() == []


@pytest.mark.parametrize(
    ("public", "secret"),
    [("pk_live_abc", "sk_test_abc"), ("pk_test_abc", "sk_live_abc"), ("pk_test_abc", "rk_live_a")],
)
def test_keys_of_different_modes_are_an_error(settings, public, secret):
    settings.STRIPE_PUBLIC_KEY, settings.STRIPE_SECRET_KEY = public, secret
    assert ids(check_stripe_settings()) == ["billing.E005"]


@pytest.mark.parametrize(
    ("public", "secret"), [("pk_live_abc", "sk_live_abc"), ("pk_live_abc", "rk_live_abc")]
)
def test_live_keys_together_pass(settings, public, secret):
    settings.STRIPE_PUBLIC_KEY, settings.STRIPE_SECRET_KEY = public, secret
    assert check_stripe_settings() == []
