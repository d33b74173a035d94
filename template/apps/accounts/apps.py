from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        post_migrate.connect(create_cache_tables, sender=self)


def create_cache_tables(*, using: str = DEFAULT_DB_ALIAS, verbosity: int = 1, **_: Any) -> None:
    """Create the database cache's table, where allauth counts logins for its rate limits
    (CACHES in config/settings/base.py), wherever migrations run: `migrate`, `make run`, a
    deploy, the test database. Django leaves it to a separate `createcachetable` that is easy to
    forget, and then every login fails on the missing table. Nothing happens when the table
    exists or the cache is Redis."""
    call_command("createcachetable", database=using, verbosity=verbosity)
