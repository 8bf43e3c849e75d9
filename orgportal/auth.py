"""Signing in and out: the login view with its throttle, logout by POST, attempts in the audit trail.

The throttle protects without locking people out:

- Usernames are counted as authentication reads them (`normalize_username`: NFKC, and the
  default user model is case-sensitive), so `alice` typed in full-width letters counts as `alice`.
- Failures are counted per (username, client address): after `LOGIN_FREE_ATTEMPTS` that pair
  waits an exponentially growing delay (`LOGIN_DELAY_SECONDS * 2^k`, capped) before its next try,
  refused meanwhile without checking the password. The same user from another address signs in:
  nobody can lock a known username out for everybody, and nobody behind a shared address (a NAT)
  is held because someone else there mistyped.
- One address across every username is held only past a much higher ceiling
  (`LOGIN_IP_ATTEMPTS`), which stops one host from spraying guesses over many usernames.
- The client address is `audit.events.client_ip`: X-Forwarded-For is read only behind our own
  proxies (`TRUSTED_PROXIES`), the hop the outermost one appended.

The counts live in the database (`LoginThrottle`), not in the append-only trail, which works
with any number of web processes on SQLite and PostgreSQL alike (the Django cache would be
per-process without Redis). The trail gets one row per burst, not one per POST: the first failure
of a (username, address) — at most `LOGIN_AUDIT_ROWS_PER_IP` of them per address and burst — and
the moment a delay starts; every further failure and refusal is counted and written as one
`login_failed_burst` summary at the next success or once the burst has been quiet for
`LOGIN_BURST_SECONDS` (found by the next sign-in attempt of anyone). 200 anonymous POSTs write a
handful of rows.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.db.models import Q
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
from audit.models import Outcome

from .models import LoginThrottle

LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
# A delay starting (once per burst), and the count of what a burst did beyond its own rows.
LOGIN_LOCKED = "login_locked"
LOGIN_FAILED_BURST = "login_failed_burst"
LOCKED_MESSAGE = "Too many failed sign-ins from here. Wait {wait} and try again, or ask an administrator."


def normalize_username(raw: str) -> str:
    """The username as authentication will look it up (NFKC, stripped like the login form does)."""
    return get_user_model().normalize_username(raw.strip())[:150]


def _wait_words(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


# --- the throttle's rows ----------------------------------------------------------------------


def _rows(username: str, ip: str) -> tuple[LoginThrottle, LoginThrottle]:
    """The (username, address) row and the address row, locked until the transaction ends."""
    found = []
    for scope, name in ((LoginThrottle.Scope.USER, username), (LoginThrottle.Scope.IP, "")):
        row, _ = LoginThrottle.objects.select_for_update().get_or_create(scope=scope, username=name, ip=ip)
        found.append(row)
    return found[0], found[1]


def _denied(action: str, username: str, request: HttpRequest, **details: Any) -> None:
    """A refused sign-in in the trail, under the username tried (there is no signed-in user)."""
    record(
        action=action,
        actor_label=username or "anonymous",
        request=request,
        params={"username": username, **details},
        outcome=Outcome.DENIED,
    )


def _report(row: LoginThrottle, request: HttpRequest) -> None:
    """Write what the trail does not have yet of `row`'s burst as one summary row."""
    if not (row.unreported_failures or row.unreported_refused):
        return
    _denied(
        LOGIN_FAILED_BURST,
        row.username,
        request,
        scope=row.scope,
        ip=row.ip,
        failures=row.unreported_failures,
        refused=row.unreported_refused,
        first=row.first_at.isoformat(),
        last=row.last_at.isoformat(),
    )
    row.unreported_failures = row.unreported_refused = 0


def _restart(row: LoginThrottle, now: datetime) -> None:
    row.failures = row.audit_rows = row.unreported_failures = row.unreported_refused = 0
    row.first_audited = row.lock_audited = False
    row.first_at = row.last_at = now
    row.locked_until = None


def _fresh(row: LoginThrottle, now: datetime, request: HttpRequest) -> None:
    """A row whose burst has been quiet long enough: its summary written, its counts restarted."""
    if row.failures and row.last_at < now - timedelta(seconds=settings.LOGIN_BURST_SECONDS):
        _report(row, request)
        _restart(row, now)
        row.save()


def _finish_quiet_bursts(now: datetime, request: HttpRequest) -> None:
    """Summaries of bursts nobody came back to, and their rows gone (a few per sign-in attempt)."""
    quiet = LoginThrottle.objects.filter(last_at__lt=now - timedelta(seconds=settings.LOGIN_BURST_SECONDS))
    quiet.filter(unreported_failures=0, unreported_refused=0).delete()
    for row in quiet.select_for_update().order_by("last_at")[:50]:
        _report(row, request)
        row.delete()


def _delay(failures: int, free: int) -> timedelta | None:
    """How long to wait after the `failures`-th failure: nothing within the free attempts."""
    if failures < free:
        return None
    seconds = settings.LOGIN_DELAY_SECONDS * 2 ** min(failures - free, 32)
    return timedelta(seconds=min(seconds, settings.LOGIN_MAX_DELAY_SECONDS))


def _held(username: str, ip: str, request: HttpRequest) -> int:
    """Seconds this (username, address) must still wait (0: try the password); a refusal is counted."""
    now = timezone.now()
    with transaction.atomic():
        _finish_quiet_bursts(now, request)
        user_row, ip_row = _rows(username, ip)
        _fresh(user_row, now, request)
        _fresh(ip_row, now, request)
        until = max((r.locked_until for r in (user_row, ip_row) if r.locked_until), default=None)
        if until is None or until <= now:
            return 0
        (user_row if user_row.first_audited else ip_row).unreported_refused += 1
        (user_row if user_row.first_audited else ip_row).save()
        return max(1, math.ceil((until - now).total_seconds()))


def _failed(username: str, ip: str, request: HttpRequest) -> None:
    """Count a failure: its own audit row if it starts a burst, a delay once past the free attempts."""
    now = timezone.now()
    with transaction.atomic():
        user_row, ip_row = _rows(username, ip)
        for row in (user_row, ip_row):
            if not row.failures:
                row.first_at = now
            row.failures += 1
            row.last_at = now
        if user_row.failures == 1 and ip_row.audit_rows < settings.LOGIN_AUDIT_ROWS_PER_IP:
            # The first failure of a (username, address) is worth its own row; past a few per
            # address (someone trying many usernames) the address's summary counts them.
            _denied(LOGIN_FAILED, username, request)
            user_row.first_audited = True
            ip_row.audit_rows += 1
        else:
            (user_row if user_row.first_audited else ip_row).unreported_failures += 1
        for row, free in ((user_row, settings.LOGIN_FREE_ATTEMPTS), (ip_row, settings.LOGIN_IP_ATTEMPTS)):
            delay = _delay(row.failures, free)
            if delay is None:
                continue
            row.locked_until = now + delay
            if not row.lock_audited and (row is ip_row or row.first_audited):
                # The delay starting is news once per burst (the summary still counts the failures).
                _denied(
                    LOGIN_LOCKED,
                    row.username,
                    request,
                    locked_by="username" if row is user_row else "ip",
                    failures=row.failures,
                    wait_seconds=int(delay.total_seconds()),
                )
                row.lock_audited = True
        user_row.save()
        ip_row.save()


def _succeeded(username: str, ip: str, request: HttpRequest) -> None:
    """A success ends that (username, address)'s burst: its summary, then a clean slate. The
    address's own count stays (signing in between guesses must not reset the ceiling)."""
    with transaction.atomic():
        for row in LoginThrottle.objects.select_for_update().filter(
            Q(scope=LoginThrottle.Scope.USER, username=username, ip=ip)
        ):
            _report(row, request)
            row.delete()


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
    wait = 0
    if request.method == "POST":
        # Counted under the name authentication will look up; the password is never kept.
        username = normalize_username(request.POST.get("username", ""))
        ip = client_ip(request)
        wait = _held(username, ip, request)
        if wait:
            form = AuthenticationForm(request)
            locked = LOCKED_MESSAGE.format(wait=_wait_words(wait))
            status = 429
        elif form.is_valid():
            user = form.get_user()
            _succeeded(username, ip, request)
            auth_login(request, user)
            record(action=LOGIN, actor=user, request=request)
            return HttpResponseRedirect(_safe_next(request))
        else:
            _failed(username, ip, request)
    response = render(
        request,
        "registration/login.html",
        {"form": form, "locked": locked, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )
    if wait:
        response["Retry-After"] = str(wait)
    return response


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
