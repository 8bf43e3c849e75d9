"""The 403 page that explains itself: when a view or a service refuses for want of a role
(`orgportal.roles.RoleRequired`), the page names the role, the connection, and who can grant it
(the connection's admins), instead of a bare "403 Forbidden" on a shared link.

Other refusals (`PermissionDenied` with a message) reach Django's own 403 view, which renders the
same template with the message as `exception`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .roles import RoleRequired


class ExplainForbiddenMiddleware:
    """Renders `403.html` with the role, the connection and the admins of a `RoleRequired`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RoleRequired):
            return None
        context = {
            "exception": str(exception),
            "role": exception.role_label,
            "connection": exception.connection,
            "granters": exception.granters(),
        }
        return render(request, "403.html", context, status=403)
