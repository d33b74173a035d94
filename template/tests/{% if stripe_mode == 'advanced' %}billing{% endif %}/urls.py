"""The project's URLs plus the documented example views (used with @pytest.mark.urls)."""

from __future__ import annotations

from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

from . import example_views, usage_example_views

urlpatterns = [
    path("examples/dashboard/", usage_example_views.dashboard_view),
    path("examples/api/", usage_example_views.api_endpoint),
    path("examples/premium/", example_views.premium_feature),
    path("examples/pro/", example_views.pro_only_feature),
    path("examples/pro-or-enterprise/", example_views.premium_plans_feature),
    path("examples/analytics/", example_views.analytics_view),
    path("examples/limited/", usage_example_views.limited_api_endpoint),
    path("api/three/", usage_example_views.three_calls),
    path("api/async-three/", usage_example_views.async_three_calls),
    path("api/plan-limited/", usage_example_views.plan_limited),
    path("api/ten/", usage_example_views.ten_calls),
    *project_urlpatterns,
]
