"""URL routes of this area."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.handshake_list, name="handshake_list"),
    path("<int:pk>/", views.handshake_detail, name="handshake_detail"),
]

# Actions (handshakes/actions.py): every state-changing URL of this area, the organization's too.
from . import actions as handshake_actions  # noqa: E402

urlpatterns += [
    path("<int:pk>/accept/", handshake_actions.accept, name="handshake_accept"),
    path("<int:pk>/decline/", handshake_actions.decline, name="handshake_decline"),
    path("<int:pk>/cancel/", handshake_actions.cancel, name="handshake_cancel"),
    path(
        "connection/<int:connection_pk>/invite-account/",
        handshake_actions.invite_account,
        name="organization_invite_account",
    ),
    path(
        "connection/<int:connection_pk>/enable-all-features/",
        handshake_actions.enable_all_features,
        name="organization_enable_all_features",
    ),
]

# CSV export of the list, same filters (handshakes/exports.py).
from . import exports as handshake_exports  # noqa: E402

urlpatterns += [path("export.csv", handshake_exports.export, name="handshake_export")]
