"""URL routes of this area."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.transfer_list, name="transfer_list"),
    path("<int:pk>/", views.transfer_detail, name="transfer_detail"),
]

# Actions (transfers/actions.py): every state-changing URL of this area.
from . import actions as transfer_actions  # noqa: E402

urlpatterns += [
    path("connection/<int:connection_pk>/invite/", transfer_actions.invite, name="transfer_invite"),
    path("<int:pk>/cancel/", transfer_actions.cancel, name="transfer_cancel"),
    path("<int:pk>/rename/", transfer_actions.rename, name="transfer_rename"),
    path("<int:pk>/terminate/", transfer_actions.terminate, name="transfer_terminate"),
]

# CSV export of the list, same filters (transfers/exports.py).
from . import exports as transfer_exports  # noqa: E402

urlpatterns += [path("export.csv", transfer_exports.export, name="transfer_export")]
