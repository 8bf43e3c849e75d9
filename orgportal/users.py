"""Users and grants (admins): who holds which role on the connections you administer; grant and
revoke; add a user and deactivate one.

Each change is written to the audit trail in the same transaction as the change itself. An admin
sees and changes grants only on connections where they hold the admin role, and sees (and may
grant to) only users who share a connection with them (superusers: all).

A new user gets no password from the admin: they are created with an unusable one and a first
role on one of the admin's connections (so the tenant wall keeps them in sight), and the admin
hands them a one-time link (Django's password-reset token: it dies once the password is set, or
after PASSWORD_RESET_TIMEOUT) where they choose their own. An admin deactivates only users whose
every grant is on connections they administer: a user another tenant relies on is theirs too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_POST

from audit.events import record

from .forms import form_field
from .models import AwsConnection, Grant, Role
from .roles import SignedInUser, User, connections_for, get_connection_for_user, request_user


class GrantForm(forms.Form):
    user = forms.ModelChoiceField(queryset=SignedInUser.objects.none(), to_field_name="username")
    connection = forms.ModelChoiceField(queryset=AwsConnection.objects.none())
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: Any, viewer: SignedInUser, connections: QuerySet[AwsConnection], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "user", forms.ModelChoiceField).queryset = users_visible_to(viewer).order_by("username")
        form_field(self, "connection", forms.ModelChoiceField).queryset = connections


class UserCreateForm(forms.Form):
    """A new user: a name, an email, and their first role on one of the admin's connections."""

    username = forms.RegexField(regex=r"^[\w.@+-]+\Z", max_length=150, help_text="Letters, digits and @ . + - _ only.")
    email = forms.EmailField(required=False)
    connection = forms.ModelChoiceField(queryset=AwsConnection.objects.none(), label="First role on")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args: Any, connections: QuerySet[AwsConnection], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "connection", forms.ModelChoiceField).queryset = connections

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if SignedInUser.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That name is taken.")
        return username


def users_visible_to(viewer: SignedInUser) -> QuerySet[SignedInUser]:
    """The active users who share a connection with `viewer` (superusers: every active user).

    Tenants are walls: an admin of one connection neither sees nor can pick a user who only
    holds grants elsewhere. A user's first grant therefore comes from a superuser.
    """
    active = SignedInUser.objects.filter(is_active=True)
    if viewer.is_superuser:
        return active
    shared = Grant.objects.filter(connection__in=connections_for(viewer)).values("user_id")
    return active.filter(id__in=shared)


def _administered(user: User) -> QuerySet[AwsConnection]:
    connections = connections_for(user, Role.ADMIN)
    if not connections.exists():
        raise PermissionDenied("Users and grants are managed by admins.")
    return connections


# --- services --------------------------------------------------------------------------------


def grant_add(*, request: HttpRequest, user: SignedInUser, connection: AwsConnection, role: str) -> tuple[Grant, bool]:
    with transaction.atomic():
        grant, created = Grant.objects.get_or_create(user=user, connection=connection, role=role)
        if created:
            record(
                action="grant_add",
                request=request,
                connection=connection,
                resource=f"user:{grant.user.get_username()}",
                params={"user": grant.user.get_username(), "user_id": grant.user.pk, "role": role},
            )
    return grant, created


def grant_remove(*, request: HttpRequest, grant: Grant) -> None:
    with transaction.atomic():
        username = grant.user.get_username()
        record(
            action="grant_remove",
            request=request,
            connection=grant.connection,
            resource=f"user:{username}",
            params={"user": username, "user_id": grant.user.pk, "role": grant.role},
        )
        grant.delete()


def user_create(
    *, request: HttpRequest, username: str, email: str, connection: AwsConnection, role: str
) -> tuple[SignedInUser, str]:
    """Create an active user with no usable password and a first grant; audited. Returns the user
    and the path of their one-time link to choose a password."""
    with transaction.atomic():
        user = SignedInUser.objects.create_user(username=username, email=email)  # unusable password
        Grant.objects.create(user=user, connection=connection, role=role)
        record(
            action="user_create",
            request=request,
            connection=connection,
            resource=f"user:{username}",
            params={"user": username, "user_id": user.pk, "email": email, "role": role},
        )
    return user, set_password_path(user)


def set_password_path(user: SignedInUser) -> str:
    """The one-time link where `user` chooses a password (Django's password-reset token)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("user_set_password", args=[uid, default_token_generator.make_token(user)])


def deactivatable_by(admin: SignedInUser) -> QuerySet[SignedInUser]:
    """Users `admin` may deactivate: active, not themselves, and (for an admin who is not a
    superuser) not superusers and holding every grant on connections `admin` administers."""
    active = SignedInUser.objects.filter(is_active=True).exclude(pk=admin.pk)
    if admin.is_superuser:
        return active
    administered = connections_for(admin, Role.ADMIN)
    elsewhere = Grant.objects.exclude(connection__in=administered).values("user_id")
    mine = Grant.objects.filter(connection__in=administered).values("user_id")
    return active.filter(is_superuser=False, id__in=mine).exclude(id__in=elsewhere)


def user_deactivate(*, request: HttpRequest, user: SignedInUser) -> None:
    """Sign `user` out for good: inactive (Django refuses their sign-in and drops their sessions'
    use) with an unusable password; grants kept for the record; audited."""
    with transaction.atomic():
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
        record(
            action="user_deactivate",
            request=request,
            resource=f"user:{user.get_username()}",
            params={"user": user.get_username(), "user_id": user.pk},
        )


# --- views -----------------------------------------------------------------------------------


def _users_page(
    request: HttpRequest,
    connections: QuerySet[AwsConnection],
    *,
    form: GrantForm | None = None,
    create_form: UserCreateForm | None = None,
    status: int = 200,
) -> HttpResponse:
    viewer = request_user(request)
    grants = (
        Grant.objects.filter(connection__in=connections)
        .select_related("user", "connection")
        .order_by("user__username", "connection__name", "role")
    )
    return render(
        request,
        "orgportal/users.html",
        {
            "grants": grants,
            "form": form or GrantForm(viewer=viewer, connections=connections),
            "create_form": create_form or UserCreateForm(connections=connections),
            "people": users_visible_to(viewer).order_by("username"),
            "deactivatable": set(deactivatable_by(viewer).values_list("pk", flat=True)),
            "new_user_link": request.session.pop("new_user_link", None),
        },
        status=status,
    )


@login_required
def users(request: HttpRequest) -> HttpResponse:
    return _users_page(request, _administered(request_user(request)))


def _check_posted_connection(request: HttpRequest, *, required: bool) -> None:
    """The connection a form names is fetched through roles first, as everywhere: another tenant's
    is a 404, one the user does not administer a 403 (the form's choices would only say "invalid")."""
    if required or request.POST.get("connection"):
        get_connection_for_user(request_user(request), request.POST.get("connection", ""), Role.ADMIN)


@require_POST
@login_required
def grant_create(request: HttpRequest) -> HttpResponse:
    connections = _administered(request_user(request))
    _check_posted_connection(request, required=True)
    form = GrantForm(request.POST, viewer=request_user(request), connections=connections)
    if not form.is_valid():
        return _users_page(request, connections, form=form, status=400)
    user, connection, role = form.cleaned_data["user"], form.cleaned_data["connection"], form.cleaned_data["role"]
    _grant, created = grant_add(request=request, user=user, connection=connection, role=role)
    level, held = (messages.SUCCESS, "is now") if created else (messages.INFO, "already was")
    messages.add_message(request, level, f"{user.get_username()} {held} {Role(role).label} on {connection.name}.")
    return redirect("users")


@require_POST
@login_required
def grant_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    connections = _administered(request_user(request))
    try:
        grant = Grant.objects.select_related("user", "connection").get(pk=pk, connection__in=connections)
    except Grant.DoesNotExist:
        raise Http404("No such grant") from None
    grant_remove(request=request, grant=grant)
    messages.success(
        request,
        f"{grant.user.get_username()} is no longer {Role(grant.role).label} on {grant.connection.name}.",
    )
    return redirect("users")


@require_POST
@login_required
def user_add(request: HttpRequest) -> HttpResponse:
    connections = _administered(request_user(request))
    _check_posted_connection(request, required=False)
    form = UserCreateForm(request.POST, connections=connections)
    if not form.is_valid():
        return _users_page(request, connections, create_form=form, status=400)
    user, path = user_create(
        request=request,
        username=form.cleaned_data["username"],
        email=form.cleaned_data["email"],
        connection=form.cleaned_data["connection"],
        role=form.cleaned_data["role"],
    )
    # Shown once, on the next page only (kept in the session, not in a message that might be logged).
    request.session["new_user_link"] = {"user": user.get_username(), "url": request.build_absolute_uri(path)}
    messages.success(request, f"Added {user.get_username()}. Give them the one-time link below to choose a password.")
    return redirect("users")


@require_POST
@login_required
def user_deactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    admin = request_user(request)
    _administered(admin)
    if not users_visible_to(admin).filter(pk=pk).exists():
        raise Http404("No such user")
    user = deactivatable_by(admin).filter(pk=pk).first()
    if user is None:
        raise PermissionDenied(
            "You may deactivate only users whose every role is on connections you administer "
            "(and never yourself or a superuser)."
        )
    user_deactivate(request=request, user=user)
    messages.success(request, f"{user.get_username()} is deactivated: they can no longer sign in.")
    return redirect("users")


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The new user's one-time link: Django's password-reset confirmation (the token dies once the
    password is set), audited."""

    template_name = "registration/set_password.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        record(
            action="user_password_set",
            actor=form.user,
            request=self.request,
            resource=f"user:{form.user.get_username()}",
        )
        messages.success(self.request, "Your password is set. Sign in with it.")
        return response


user_set_password = SetPasswordView.as_view()
