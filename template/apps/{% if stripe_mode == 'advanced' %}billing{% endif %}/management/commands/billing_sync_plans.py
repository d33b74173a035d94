"""Create the PlanConfiguration of every Stripe product that sells a recurring price.

    python manage.py billing_sync_plans --sync     # fetch products and prices first
    python manage.py billing_sync_plans --update   # also refresh existing plans from Stripe

See `apps.billing.plans.sync_plans` for the product metadata it reads.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.billing.plans import sync_plans, sync_products_and_prices
from apps.billing.stripe_api import StripeNotConfiguredError


class Command(BaseCommand):
    help = "Create (or with --update, refresh) plan configurations from synced Stripe products."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sync",
            action="store_true",
            help="First sync products and prices from Stripe (like djstripe_sync_models "
            "Product Price).",
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Overwrite existing plans (name, price, features, limits) from Stripe.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["sync"]:
            try:
                products, prices = sync_products_and_prices()
            except StripeNotConfiguredError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Synced {products} products and {prices} prices from Stripe.")
        for line in sync_plans(update=options["update"]):
            self.stdout.write(line)
