"""The billing pages, under /billing/ (`billing:` namespace) in both modes."""

from __future__ import annotations

from django.urls import path

from . import page_urls, views, webhook_urls

app_name = "billing"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("checkout/", views.checkout, name="checkout"),
    path("success/", views.success, name="success"),
    path("subscription/", views.subscription, name="subscription"),
    path("portal/", views.customer_portal, name="customer_portal"),
    *page_urls.billing_urlpatterns,
    *webhook_urls.billing_urlpatterns,
]
