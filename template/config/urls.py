"""Root URL configuration."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from apps.billing import page_urls, webhook_urls

urlpatterns = [
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("billing/", include("apps.billing.urls")),
    *page_urls.site_urlpatterns,
    path("teams/", include("apps.teams.urls")),
    *webhook_urls.site_urlpatterns,
    path("admin/", admin.site.urls),
]
