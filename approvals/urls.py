"""URL routes of two-person approval: the requests, their decisions, and a connection's rule."""

from django.urls import path

from . import action_views, views

urlpatterns: list = [
    path("", views.approval_list, name="approval_list"),
    path("<int:pk>/", views.approval_detail, name="approval_detail"),
    # Every state-changing URL of this area.
    path("<int:pk>/approve/", action_views.approve, name="approval_approve"),
    path("<int:pk>/reject/", action_views.reject, name="approval_reject"),
    path("<int:pk>/withdraw/", action_views.withdraw, name="approval_withdraw"),
    path("connection/<int:connection_pk>/rule/", action_views.rule, name="approval_rule"),
]
