"""URL routes of two-person approval: the requests, their decisions, and a connection's rule."""

from django.urls import include, path

from . import action_views, views

one_request = [
    path("", views.approval_detail, name="approval_detail"),
    # Every state-changing URL of this area: the decisions, and the rule below.
    path("approve/", action_views.approve, name="approval_approve"),
    path("reject/", action_views.reject, name="approval_reject"),
    path("withdraw/", action_views.withdraw, name="approval_withdraw"),
]

urlpatterns: list = [
    path("", views.approval_list, name="approval_list"),
    path("<int:pk>/", include(one_request)),
    path("connection/<int:connection_pk>/rule/", action_views.rule, name="approval_rule"),
]
