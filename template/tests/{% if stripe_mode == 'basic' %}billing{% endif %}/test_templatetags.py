from __future__ import annotations

import pytest
from django.template import Context, Template


@pytest.mark.parametrize(
    ("value", "divisor", "expected"),
    [
        (2900, 100, "29"),
        (2950, 100, "29.5"),
        ("999", 100, "9.99"),
        (1, 0, ""),
        ("x", 100, ""),
        (None, 100, ""),
    ],
)
def test_divide(value, divisor, expected):
    rendered = Template("{% load billing_tags %}{{ value|divide:divisor }}").render(
        Context({"value": value, "divisor": divisor})
    )
    assert rendered == expected


@pytest.mark.django_db
def test_the_documented_pricing_template_renders_basic_plans(rf, user):
    from apps.billing.plans import get_plans

    template = Template(
        "{% load billing_tags %}{% for plan in plans %}{{ plan.name }}:"
        "{{ plan.stripe_price.unit_amount|divide:100 }}:{{ plan.stripe_price.id }};{% endfor %}"
    )
    assert (
        template.render(Context({"plans": get_plans()}))
        == "Pro:29:price_test_123;Enterprise:99:price_test_enterprise;"
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("api_calls", "API calls"),
        ("advanced_analytics", "Advanced analytics"),
        ("storage_gb", "Storage GB"),
        ("", ""),
    ],
)
def test_label(key, expected):
    rendered = Template("{% load billing_tags %}{{ key|label }}").render(Context({"key": key}))
    assert rendered == expected
