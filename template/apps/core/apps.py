from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig, apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # After the sites app's own receiver, which creates the site (this app has no models,
        # so Django sends it no post_migrate of its own).
        post_migrate.connect(name_the_site, sender=apps.get_app_config("sites"))


def name_the_site(*, using: str = DEFAULT_DB_ALIAS, **_: Any) -> None:
    """Give the Sites framework's site the project's name and domain, wherever migrations run.

    allauth signs its emails with it ("Hello from <site name>!"); Django creates it as
    "example.com". Kept equal to PROJECT_NAME and SITE_URL on every migrate.
    """
    from django.contrib.sites.models import Site

    domain = urlsplit(settings.SITE_URL).netloc or "localhost"
    Site.objects.using(using).update_or_create(
        pk=settings.SITE_ID, defaults={"domain": domain[:100], "name": settings.PROJECT_NAME[:50]}
    )
