"""URL routes of this area, and of the two transfer actions that are handshakes (they live under
the transfers' URLs: `transfer_invitation_urls`, included by the root URLconf)."""

from django.urls import path

from orgportal.pages import read_urls

from . import action_views, exports, views

urlpatterns: list = [
    *read_urls("handshake", list=views.handshake_list, detail=views.handshake_detail, export=exports.export),
    # Every state-changing URL of this area, the organization's too.
    path("<int:pk>/accept/", action_views.accept, name="handshake_accept"),
    path("<int:pk>/decline/", action_views.decline, name="handshake_decline"),
    path("<int:pk>/cancel/", action_views.cancel, name="handshake_cancel"),
    path(
        "connection/<int:connection_pk>/invite-account/",
        action_views.invite_account,
        name="organization_invite_account",
    ),
    path(
        "connection/<int:connection_pk>/enable-all-features/",
        action_views.enable_all_features,
        name="organization_enable_all_features",
    ),
]

transfer_invitation_urls: list = [
    path("connection/<int:connection_pk>/invite/", action_views.transfer_invite, name="transfer_invite"),
    path("<int:pk>/cancel/", action_views.transfer_cancel, name="transfer_cancel"),
]
