"""URL routes of the organization and policy pages (mounted at organization/)."""

from django.urls import path

from . import views

app_name = "policies"

urlpatterns = [
    path("<int:pk>/", views.organization, name="organization"),
    path("<int:pk>/create/", views.organization_create, name="organization_create"),
    path("<int:pk>/roots/<str:root_id>/types/<str:action>/", views.policy_type_change, name="policy_type_change"),
    path("<int:pk>/policies/", views.policy_list, name="policy_list"),
    path("<int:pk>/policies/new/", views.policy_create, name="policy_create"),
    path("<int:pk>/policies/<str:policy_id>/", views.policy_detail, name="policy_detail"),
    path("<int:pk>/policies/<str:policy_id>/edit/", views.policy_update, name="policy_update"),
    path("<int:pk>/policies/<str:policy_id>/delete/", views.policy_delete, name="policy_delete"),
    path("<int:pk>/policies/<str:policy_id>/attach/", views.policy_attach, name="policy_attach"),
    path("<int:pk>/policies/<str:policy_id>/detach/", views.policy_detach, name="policy_detach"),
    path("<int:pk>/targets/<str:target_id>/", views.target_policies, name="target_policies"),
    path("<int:pk>/effective/", views.effective_policy, name="effective_policy"),
    path("<int:pk>/effective/refresh/", views.effective_policy_refresh, name="effective_policy_refresh"),
    path("<int:pk>/effective/invalid/", views.invalid_effective_policies, name="invalid_effective_policies"),
]
