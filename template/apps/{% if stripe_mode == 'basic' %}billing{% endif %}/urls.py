from __future__ import annotations

from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("checkout/", views.checkout, name="checkout"),
    path("success/", views.success, name="success"),
    path("subscription/", views.subscription, name="subscription"),
    path("portal/", views.customer_portal, name="customer_portal"),
    path("webhook/", views.webhook, name="webhook"),
]
