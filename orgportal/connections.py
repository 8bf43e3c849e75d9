"""Services of the connection pages: who may add one, save it (audited), test its credentials —
saved ones, or the ones a form holds before it is saved.

Views stay thin and call these. Secrets never reach the audit trail or a log: the trail only
says which secret fields were replaced (or dropped, when the endpoint changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from audit.events import record

from . import aws
from .forms import ConnectionForms
from .models import AwsConnection, AwsCredentials, CredentialMode, Grant, Role
from .roles import SignedInUser
from .sync import identity_from, save_identity

SECRET_FIELDS = frozenset({"secret_access_key"})


def may_add_connections(user: SignedInUser) -> bool:
    """Superusers, and admins of any connection, may add connections.

    An admin's new connection holds only what they bring (access keys, or a role whose trust
    policy names the connection's generated external id), so it gives them no power over
    another tenant; the server's own credentials stay with superusers (`ambient_allowed`).
    """
    if user.is_superuser:
        return True
    return Grant.objects.filter(user=user, role=Role.ADMIN).exists()


def ambient_allowed(user: SignedInUser) -> bool:
    """May `user` give a connection the server's own credentials (default chain, named profile)?"""
    return bool(settings.ALLOW_AMBIENT_CREDENTIALS) and user.is_superuser


def connection_forms(data: Any, *, actor: SignedInUser, connection: AwsConnection | None) -> ConnectionForms:
    return ConnectionForms(data, connection=connection, allow_ambient=ambient_allowed(actor))


def _audited(changed: list[str], prefix: str, credentials: AwsCredentials) -> dict[str, Any]:
    return {
        f"{prefix}{name}": ("replaced" if name in SECRET_FIELDS else getattr(credentials, name)) for name in changed
    }


def _drop_secret(credentials: AwsCredentials, changed: list[str], prefix: str) -> dict[str, Any]:
    """After an endpoint change: a secret not entered again in this edit is dropped, never re-sent.

    Audited under a name the trail does not redact, so the trail says that it happened.
    """
    if "secret_access_key" in changed or not credentials.secret_access_key_encrypted:
        return {}
    credentials.secret_access_key_encrypted = ""
    return {f"{prefix}dropped": "secret_access_key (the endpoint changed)"}


@transaction.atomic
def connection_save(*, actor: SignedInUser, request: HttpRequest | None, forms: ConnectionForms) -> AwsConnection:
    """Create or update a connection from valid forms; audit what changed (never a secret)."""
    form, read_form, action_form = forms.form, forms.read, forms.action
    connection: AwsConnection = form.instance
    creating = connection.pk is None
    changes: dict[str, Any] = {name: form.cleaned_data[name] for name in form.changed_data if name in form.Meta.fields}
    endpoint_changed = not creating and "endpoint_url" in changes

    def store(credentials: AwsCredentials, credentials_form: Any, prefix: str) -> AwsCredentials:
        # The same for both sets: apply, audit what changed, drop a secret a new endpoint would get.
        changed = credentials_form.apply(credentials)
        changes.update(_audited(changed, prefix, credentials))
        if endpoint_changed:
            changes.update(_drop_secret(credentials, changed, prefix))
        credentials.save()
        return credentials

    connection.read_credentials = store(
        connection.read_credentials if not creating else AwsCredentials(), read_form, "read."
    )
    old_action = connection.action_credentials if connection.action_credentials_id else None
    if form.cleaned_data["use_action_credentials"]:
        connection.action_credentials = store(old_action or AwsCredentials(), action_form, "action.")
    else:
        connection.action_credentials = None
        if old_action is not None:
            changes["action"] = "removed"
    connection = form.save()
    if old_action is not None and connection.action_credentials_id is None:
        old_action.delete()
    if creating and not actor.is_superuser:
        # Whoever adds a connection administers it.
        Grant.objects.get_or_create(user=actor, connection=connection, role=Role.ADMIN)
    # Clients are cached per credentials; an edit must not keep using the old ones.
    aws.forget_clients()
    record(
        action="connection.created" if creating else "connection.updated",
        actor=actor,
        request=request,
        connection=connection,
        resource=f"connection/{connection.pk}",
        params={"name": connection.name, "endpoint_url": connection.endpoint_url, **changes},
    )
    return connection


@dataclass
class TestResult:
    """What "Test connection" shows: who the credentials are and what the organization is."""

    ok: bool
    purpose: str
    organization_id: str = ""
    feature_set: str = ""
    management_account_id: str = ""
    management_account_email: str = ""
    caller_name: str = ""
    caller_email: str = ""
    is_management: bool = False
    error: str = ""
    error_code: str = ""
    notes: list[str] = field(default_factory=list)


def _test(connection: AwsConnection, purpose: str, *, remember: bool = True) -> TestResult:
    try:
        organization = aws.call(connection, "DescribeOrganization", purpose).data["Organization"]
    except aws.AwsError as exc:
        return TestResult(ok=False, purpose=purpose, error=exc.user_message, error_code=exc.code)
    result = TestResult(
        ok=True,
        purpose=purpose,
        organization_id=organization.get("Id", ""),
        feature_set=organization.get("FeatureSet", ""),
        management_account_id=organization.get("MasterAccountId", ""),
        management_account_email=organization.get("MasterAccountEmail", ""),
    )
    # Only the management account (or a delegated administrator) may describe accounts, so
    # this both names the caller and tells whether the credentials can do the portal's work.
    try:
        account = aws.call(connection, "DescribeAccount", purpose, AccountId=result.management_account_id).data[
            "Account"
        ]
    except aws.AwsError as exc:
        if exc.code == "AccessDeniedException":
            result.notes.append(
                "These credentials belong to a member account, not the management account: "
                "the portal needs the management account's credentials."
            )
            result.ok = False
            result.error_code = exc.code
            return result
        return TestResult(ok=False, purpose=purpose, error=exc.user_message, error_code=exc.code)
    result.is_management = True
    result.caller_name = account.get("Name", "")
    result.caller_email = account.get("Email", "")
    if result.feature_set != "ALL":
        result.notes.append("Billing transfers need all features enabled in the organization.")
    if purpose == "read" and remember:
        save_identity(connection, identity_from(organization, {"Id": account["Id"], "Email": account.get("Email", "")}))
    return result


def connection_test(*, connection: AwsConnection, actor: SignedInUser, request: HttpRequest | None) -> list[TestResult]:
    """Test the read credentials (and the action ones when separate); audited."""
    purposes = ["read", "action"] if connection.action_credentials_id else ["read"]
    results = [_test(connection, purpose) for purpose in purposes]
    record(
        action="connection.tested",
        actor=actor,
        request=request,
        connection=connection,
        resource=f"connection/{connection.pk}",
        params={r.purpose: ("ok" if r.ok else r.error_code or "failed") for r in results},
        outcome="ok" if all(r.ok for r in results) else "error",
        error="; ".join(r.error or " ".join(r.notes) for r in results if not r.ok),
    )
    return results


def connection_try(*, forms: ConnectionForms, actor: SignedInUser, request: HttpRequest | None) -> list[TestResult]:
    """ "Test connection" before saving: the credentials the valid `forms` hold, built in memory
    (nothing is saved, no client is kept) and tried through the gateway like a saved
    connection's. Audited as a test of an unsaved connection; a secret never reaches the trail."""
    form = forms.form
    connection: AwsConnection = form.instance  # the posted name and endpoint, unsaved
    read = AwsCredentials(pk=None)
    if connection.pk is not None:
        # Blank keeps the stored secret (as Save would): start from the stored credentials.
        stored = connection.read_credentials
        read = AwsCredentials(
            mode=stored.mode,
            profile_name=stored.profile_name,
            role_arn=stored.role_arn,
            access_key_id=stored.access_key_id,
            secret_access_key_encrypted=stored.secret_access_key_encrypted,
        )
    forms.read.apply(read)
    tried = [("read", read)]
    if form.cleaned_data["use_action_credentials"]:
        stored_action = connection.action_credentials if connection.action_credentials_id else None
        action = AwsCredentials(
            mode=stored_action.mode if stored_action else CredentialMode.KEYS,
            access_key_id=stored_action.access_key_id if stored_action else "",
            secret_access_key_encrypted=stored_action.secret_access_key_encrypted if stored_action else "",
        )
        forms.action.apply(action)
        tried.append(("action", action))
    results = []
    for purpose, credentials in tried:
        # Each set is tried as the read credentials of an unsaved connection (the gateway keeps
        # no client of a connection without a pk), named by its purpose in the result.
        trial = AwsConnection(
            name=connection.name, endpoint_url=connection.endpoint_url, external_id=connection.external_id
        )
        trial.read_credentials = credentials
        result = _test(trial, "read", remember=False)
        result.purpose = purpose
        results.append(result)
    record(
        action="connection.tested",
        actor=actor,
        request=request,
        connection=connection if connection.pk is not None else None,
        resource=f"connection/{connection.pk}" if connection.pk is not None else "connection/unsaved",
        params={
            "unsaved": True,
            "name": connection.name,
            "endpoint_url": connection.endpoint_url,
            **{r.purpose: ("ok" if r.ok else r.error_code or "failed") for r in results},
        },
        outcome="ok" if all(r.ok for r in results) else "error",
        error="; ".join(r.error or " ".join(r.notes) for r in results if not r.ok),
    )
    return results
