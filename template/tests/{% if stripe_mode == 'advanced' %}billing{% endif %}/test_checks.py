"""System checks of the billing settings (billing.E00x, deploy warnings billing.W00x)."""

from __future__ import annotations

import pytest

from apps.billing.checks import check_offline_stripe_deploy, check_stripe_settings


def ids(messages):
    return [message.id for message in messages]


def test_the_test_settings_pass():
    assert check_stripe_settings() == []


@pytest.mark.parametrize(
    "key", ["sk_test_fake", "pk_test_othertestsuitekey000000000000", "sk_test_a_b"]
)
def test_a_malformed_secret_key_is_an_error(settings, key):
    settings.STRIPE_SECRET_KEY = key
    assert "billing.E001" in ids(check_stripe_settings())


def test_a_malformed_public_key_is_an_error(settings):
    settings.STRIPE_PUBLIC_KEY = "sk_test_othertestsuitekey000000000000"
    assert ids(check_stripe_settings()) == ["billing.E002"]


def test_live_mode_must_match_the_key(settings):
    settings.STRIPE_LIVE_MODE = True
    assert ids(check_stripe_settings()) == ["billing.E003"]
    settings.STRIPE_SECRET_KEY = settings.STRIPE_TEST_SECRET_KEY = "sk_live_" + "a" * 30
    settings.STRIPE_LIVE_SECRET_KEY = settings.STRIPE_SECRET_KEY
    assert check_stripe_settings() == []


def test_the_offline_stripe_is_refused_by_the_deploy_check(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:12111"
    assert ids(check_offline_stripe_deploy()) == ["billing.E004"]
    settings.STRIPE_API_BASE = ""
    assert check_offline_stripe_deploy() == []


@pytest.mark.parametrize(
    ("key", "live"),
    [
        ("sk_live_" + "a" * 30, True),
        ("rk_live_" + "a" * 30, True),  # a restricted live key is live too
        ("sk_test_" + "a" * 30, False),
        ("", False),
    ],
)
def test_live_mode_follows_the_key_by_default(monkeypatch, key, live):
    import importlib

    from config.settings import billing

    monkeypatch.setenv("STRIPE_SECRET_KEY", key)
    monkeypatch.delenv("STRIPE_LIVE_MODE", raising=False)
    try:
        assert importlib.reload(billing).STRIPE_LIVE_MODE is live
    finally:
        monkeypatch.undo()
        importlib.reload(billing)
