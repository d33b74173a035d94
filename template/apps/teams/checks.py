"""System checks of the teams settings (`manage.py check`, and at every start)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from .conf import invitation_lifetime, seat_proration_behavior


@register()
def check_teams_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    for n, read in enumerate((seat_proration_behavior, invitation_lifetime), start=1):
        try:
            read()
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id=f"teams.E00{n}"))
    return errors
