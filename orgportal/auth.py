"""Signing in and out: the login view with lockout, logout by POST, every attempt in the audit trail.

Lockout counts failed sign-ins in the audit trail itself (no second store), so it holds across
every web process: after ``LOGIN_LOCKOUT_ATTEMPTS`` failures within ``LOGIN_LOCKOUT_SECONDS`` for
one username (since that user's last successful sign-in) or from one address, further attempts
are refused without checking the password until the window has passed.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from audit.events import client_ip, record
from audit.models import AuditEvent, Outcome

LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
# A refusal while locked is its own action, so it does not extend the lock it was refused by.
LOGIN_LOCKED = "login_locked"
LOCKED_MESSAGE = "Too many failed sign-ins. Wait {minutes} minutes and try again, or ask an administrator."


def _lockout_reason(username: str, ip: str) -> str:
    """'username' or 'ip' if that one has failed too often within the window; '' otherwise."""
    since = timezone.now() - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    limit = settings.LOGIN_LOCKOUT_ATTEMPTS
    failures = AuditEvent.objects.filter(action=LOGIN_FAILED, outcome=Outcome.DENIED, time__gte=since)
    if username:
        last_success = (
            AuditEvent.objects.filter(action=LOGIN, actor_label=username, time__gte=since)
            .order_by("-id")
            .values_list("time", flat=True)
            .first()
        )
        by_user = failures.filter(actor_label=username)
        if last_success is not None:
            by_user = by_user.filter(time__gt=last_success)
        if by_user.count() >= limit:
            return "username"
    if ip and failures.filter(ip=ip).count() >= limit:
        return "ip"
    return ""


def _safe_next(request: HttpRequest) -> str:
    """Where to go after signing in: a path on this site, or the inbox.

    Only an absolute path is followed: Django's `redirect()` takes a value without a slash for a
    URL name (`?next=foo` was a NoReverseMatch, a 500), and a full URL is never needed here.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method != "POST":
        return HttpResponseRedirect(_safe_next(request))
    form = AuthenticationForm(request, data=request.POST if request.method == "POST" else None)
    status = 200
    locked = ""
    if request.method == "POST":
        # The username as typed labels the attempt (it may name nobody); the password is never kept.
        username = request.POST.get("username", "").strip()[:150]
        reason = _lockout_reason(username, client_ip(request))
        if reason:
            record(
                action=LOGIN_LOCKED,
                actor_label=username or "anonymous",
                request=request,
                params={"username": username, "locked_by": reason},
                outcome=Outcome.DENIED,
            )
            form = AuthenticationForm(request)
            locked = LOCKED_MESSAGE.format(minutes=max(1, settings.LOGIN_LOCKOUT_SECONDS // 60))
            status = 429
        elif form.is_valid():
            user = form.get_user()
            auth_login(request, user)
            record(action=LOGIN, actor=user, request=request)
            return HttpResponseRedirect(_safe_next(request))
        else:
            record(
                action=LOGIN_FAILED,
                actor_label=username or "anonymous",
                request=request,
                params={"username": username},
                outcome=Outcome.DENIED,
            )
    return render(
        request,
        "registration/login.html",
        {"form": form, "locked": locked, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )


@require_POST
@csrf_protect
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        record(action=LOGOUT, request=request)
    auth_logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site's own login would skip the lockout and the audit: send it to ours."""
    return redirect(f"{reverse('login')}?{urlencode({'next': request.GET.get('next', reverse('admin:index'))})}")
