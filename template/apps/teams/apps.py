from __future__ import annotations

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.teams"
    verbose_name = "Teams"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401  (registers the checks, connects the seats)
