"""The get_usage template tag of advanced mode, available in every template.

config/settings/base.py lists this module in TEMPLATES "builtins", so the documented templates work
as written: `{% load billing_tags %}` (the shared `divide` filter) and then
`{% get_usage user 'api_calls' as api_usage %}`. (A second library named `billing_tags` would
shadow the shared one, which Django reports as templates.W003.)
"""

from __future__ import annotations

from typing import Any

from django import template

from apps.billing.usage import UsageSummary
from apps.billing.usage import get_usage as usage_of

register = template.Library()


@register.simple_tag
def get_usage(user: Any, metric: str) -> UsageSummary:
    """{% get_usage user 'api_calls' as api_usage %}: .current .limit .percentage
    .is_near_limit (from BILLING_USAGE_WARNING_PERCENT, 80 by default) .is_over_limit."""
    return usage_of(user, metric)
