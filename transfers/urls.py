"""URL routes of this area (its invitation and the invitation's withdrawal are handshake actions:
`handshakes.urls.transfer_invitation_urls`, under this same prefix)."""

from django.urls import path

from orgportal.pages import read_urls

from . import action_views, exports, views

urlpatterns: list = [
    *read_urls("transfer", list=views.transfer_list, detail=views.transfer_detail, export=exports.export),
    # Every state-changing URL of this area.
    path("<int:pk>/rename/", action_views.rename, name="transfer_rename"),
    path("<int:pk>/terminate/", action_views.terminate, name="transfer_terminate"),
]
