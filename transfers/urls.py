"""URL routes of this area (its invitation and the invitation's withdrawal are handshake actions:
`handshakes.urls.transfer_invitation_urls`, under this same prefix)."""

from django.urls import path

from . import action_views, exports, views

urlpatterns: list = [
    path("", views.transfer_list, name="transfer_list"),
    path("<int:pk>/", views.transfer_detail, name="transfer_detail"),
    path("export.csv", exports.export, name="transfer_export"),
    # Every state-changing URL of this area.
    path("<int:pk>/rename/", action_views.rename, name="transfer_rename"),
    path("<int:pk>/terminate/", action_views.terminate, name="transfer_terminate"),
]
