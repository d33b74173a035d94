from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "apps.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # After dj-stripe's ready() (djstripe comes first in INSTALLED_APPS): the receivers in
        # `webhooks` run after dj-stripe has synced each event's object.
        from . import checks, webhooks  # noqa: F401  (registers system checks and receivers)
        from .stripe_api import configure_stripe_module

        configure_stripe_module()
