"""The project's URLs plus the spec's example views (used with @pytest.mark.urls)."""

from __future__ import annotations

from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

from . import spec_views

urlpatterns = [
    path("spec/dashboard/", spec_views.dashboard_view),
    path("spec/api/", spec_views.api_endpoint),
    path("spec/premium/", spec_views.premium_feature),
    path("spec/pro/", spec_views.pro_only_feature),
    path("spec/pro-or-enterprise/", spec_views.premium_plans_feature),
    path("spec/analytics/", spec_views.analytics_view),
    path("spec/limited/", spec_views.limited_api_endpoint),
    path("api/three/", spec_views.three_calls),
    path("api/plan-limited/", spec_views.plan_limited),
    path("api/ten/", spec_views.ten_calls),
    *project_urlpatterns,
]
