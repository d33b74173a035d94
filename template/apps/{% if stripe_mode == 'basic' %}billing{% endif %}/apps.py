from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "apps.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .stripe_api import configure_stripe_module

        configure_stripe_module()
