from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "apps.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # In advanced mode `apps.billing` comes after djstripe in INSTALLED_APPS, so the
        # receivers in `webhook_handlers` run after dj-stripe has synced each event's object.
        from . import checks, deploy_checks, webhook_handlers  # noqa: F401  (registers them)
        from .stripe_api import configure_stripe_module

        configure_stripe_module()
