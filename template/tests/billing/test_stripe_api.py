"""Where stripe-python sends requests (and so the secret key): the offline Stripe only with
DEBUG on, api.stripe.com otherwise, whatever STRIPE_API_BASE says."""

from __future__ import annotations

import pytest
import stripe

from apps.billing.stripe_api import configure_stripe_module

OFFLINE = "http://127.0.0.1:12111"


@pytest.fixture
def stripe_module(monkeypatch):
    """stripe-python's module settings, restored after the test."""
    monkeypatch.setattr(stripe, "api_base", "https://api.stripe.com")
    monkeypatch.setattr(stripe, "meter_events_api_base", "https://meter-events.stripe.com")
    return stripe


def test_with_debug_off_stripe_api_base_is_ignored(settings, stripe_module):
    settings.DEBUG, settings.STRIPE_API_BASE = False, OFFLINE
    configure_stripe_module()
    assert stripe_module.api_base == "https://api.stripe.com"
    assert stripe_module.meter_events_api_base == "https://meter-events.stripe.com"


def test_with_debug_on_it_points_at_the_offline_stripe(settings, stripe_module):
    settings.DEBUG, settings.STRIPE_API_BASE = True, OFFLINE
    configure_stripe_module()
    assert stripe_module.api_base == stripe_module.meter_events_api_base == OFFLINE
