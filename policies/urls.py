"""URL routes of the organization and policy pages (mounted at organization/).

Names are global (no namespace) like the other areas', so the role-matrix test can reverse every
action view with the connection's pk alone. Action views take only the connection in the path;
the root, policy and target they act on are form fields. The two directions of a change (enable /
disable, attach / detach) are one view told which by the URL.
"""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.organization_home, name="organization_home"),
    path("<int:pk>/", views.organization, name="organization"),
    path("<int:pk>/create/", views.organization_create, name="organization_create"),
    path("<int:pk>/policy-types/enable/", views.policy_type_change, {"enable": True}, name="policy_type_enable"),
    path("<int:pk>/policy-types/disable/", views.policy_type_change, {"enable": False}, name="policy_type_disable"),
    path("<int:pk>/policies/", views.policy_list, name="policy_list"),
    path("<int:pk>/policies/new/", views.policy_create, name="policy_create"),
    path("<int:pk>/policies/edit/", views.policy_update, name="policy_update"),
    path("<int:pk>/policies/delete/", views.policy_delete, name="policy_delete"),
    path("<int:pk>/policies/attach/", views.policy_target_change, {"attach": True}, name="policy_attach"),
    path("<int:pk>/policies/detach/", views.policy_target_change, {"attach": False}, name="policy_detach"),
    path("<int:pk>/policies/<str:policy_id>/", views.policy_detail, name="policy_detail"),
    path("<int:pk>/targets/<str:target_id>/", views.target_policies, name="target_policies"),
    path("<int:pk>/effective/", views.effective_policy, name="effective_policy"),
    path("<int:pk>/effective/refresh/", views.effective_policy_refresh, name="effective_policy_refresh"),
    path("<int:pk>/effective/invalid/", views.invalid_effective_policies, name="invalid_effective_policies"),
]
