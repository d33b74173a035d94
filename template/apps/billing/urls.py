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
    # Plan changes in the app (`plan_changes`): change plan, cancel at period end, resume.
    path("change-plan/", views.change_plan, name="change_plan"),
    path(
        "change-plan/scheduled/cancel/",
        views.cancel_scheduled_change,
        name="cancel_scheduled_change",
    ),
    path("cancel/", views.cancel, name="cancel"),
    path("resume/", views.resume, name="resume"),
    *page_urls.billing_urlpatterns,
    *webhook_urls.billing_urlpatterns,
]
