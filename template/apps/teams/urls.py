"""The team pages, under /teams/ (`teams:` namespace)."""

from __future__ import annotations

from django.urls import path

from . import billing_views, views

app_name = "teams"

urlpatterns = [
    path("", views.team_list, name="list"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("<slug:slug>/", views.team_detail, name="detail"),
    path("<slug:slug>/switch/", views.switch_team, name="switch"),
    path("<slug:slug>/invite/", views.invite, name="invite"),
    path(
        "<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.revoke,
        name="revoke_invitation",
    ),
    path("<slug:slug>/members/<int:user_id>/remove/", views.remove, name="remove_member"),
    path("<slug:slug>/members/<int:user_id>/role/", views.role, name="change_role"),
    path("<slug:slug>/leave/", views.leave, name="leave"),
    path("<slug:slug>/billing/", billing_views.overview, name="billing"),
    path("<slug:slug>/billing/checkout/", billing_views.team_checkout, name="billing_checkout"),
    path("<slug:slug>/billing/success/", billing_views.team_success, name="billing_success"),
    path("<slug:slug>/billing/portal/", billing_views.team_portal, name="billing_portal"),
]
