"""Root URLs. Each area's routes live beside its views."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from handshakes.urls import transfer_invitation_urls
from orgportal import auth

from . import billing_map, inbox


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", inbox.inbox, name="inbox"),
    path("billing-map/", billing_map.billing_map, name="billing_map"),
    path("accounts/", include("orgportal.auth_urls")),
    path("connections/", include("orgportal.connection_urls")),
    path("transfers/", include("transfers.urls")),
    path("transfers/", include(transfer_invitation_urls)),
    path("handshakes/", include("handshakes.urls")),
    path("organization/", include("policies.urls")),
    path("audit/", include("audit.urls")),
    path("notifications/", include("notifications.urls")),
    path("approvals/", include("approvals.urls")),
    # The admin's own login would skip the lockout and the audit trail.
    path("admin/login/", auth.admin_login),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
