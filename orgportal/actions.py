"""The write path: the ONE way a portal action reaches AWS.

Every service that changes something in AWS (accept, decline, cancel, invite, rename, terminate,
invite account, enable all features) goes through `perform()`, which does, in this order:

1. claim the resource in the database (an `InFlightAction` row with a unique key: the second
   INSERT fails on SQLite and PostgreSQL alike), re-check the state guard on the freshly read
   row and audit the intent — one transaction, committed before AWS is called so that every
   other process sees the claim;
2. call AWS through the gateway with the connection's *action* credentials, outside any
   transaction (a slow AWS call must not hold a database lock);
3. apply the response to the cached rows and audit the outcome with the AWS request id — or, on
   an error, audit the error code and request id — and release the claim, in one transaction;
4. when AWS says the cache was wrong (the handshake already moved, the transfer is gone), resync
   that one resource so the page shows the truth, and tell the user in plain words.

The state guard runs *after* the claim, on the row as committed by whoever held the claim
before: twenty concurrent clicks make one AWS call, and the nineteen others see either "already
in progress" or the new state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.events import record
from orgportal import aws
from orgportal.models import AwsConnection, InFlightAction

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A claim older than this belongs to a process that died mid-action (every AWS attempt has
# timed out long before): it may be taken over, so a crash never blocks a resource forever.
CLAIM_TIMEOUT = timedelta(minutes=10)

# Error codes meaning "the cached row was wrong": the resource moved or vanished in AWS.
STALE_CACHE_CODES = frozenset(
    {
        "HandshakeAlreadyInStateException",
        "InvalidHandshakeTransitionException",
        "HandshakeNotFoundException",
        "ResponsibilityTransferAlreadyInStatusException",
        "InvalidResponsibilityTransferTransitionException",
        "ResponsibilityTransferNotFoundException",
    }
)


class ActionRefused(Exception):
    """The action was not sent to AWS: a guard, a role, or another action in flight said no.

    `status` is the HTTP status a view answers with (409 for conflicts, 422 for bad input).
    """

    status = 409

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class ActionInFlight(ActionRefused):
    """Someone (maybe this user's other click) is already acting on this resource."""


class ActionFailed(Exception):
    """AWS answered with an error. Carries the plain-words message, the code and the request id."""

    def __init__(self, error: aws.AwsError, *, resynced: bool = False, resync_note: str = "") -> None:
        super().__init__(error.user_message)
        self.error = error
        self.code: str = error.code
        self.request_id: str = error.request_id
        self.resynced = resynced
        self.resync_note = resync_note

    @property
    def message(self) -> str:
        text = self.error.user_message
        if self.resync_note:
            text = f"{text} {self.resync_note}"
        return text

    @property
    def status(self) -> int:
        # The user's request was fine; AWS refused it or failed. 409 when the state moved,
        # 502 when AWS itself failed, 400 for everything AWS calls the caller's fault.
        if self.code in STALE_CACHE_CODES or self.code == "ConcurrentModificationException":
            return 409
        if (self.error.http_status or 0) >= 500 or self.code in {"ServiceException", "TooManyRequestsException"}:
            return 502
        return 400


@dataclass(frozen=True)
class Outcome:
    """What `perform` hands back to the service: the applied result and the AWS request id."""

    result: Any
    request_id: str


def resource_key(kind: str, aws_id: str) -> str:
    """The claim key of one AWS object: the same for every connection that sees it, so the
    sender and the recipient of a handshake cannot act on it at the same instant either."""
    return f"{kind}:{aws_id}"


def _claim(*, key: str, connection: AwsConnection, action: str, actor: Any) -> InFlightAction:
    now = timezone.now()
    try:
        with transaction.atomic():
            return InFlightAction.objects.create(
                key=key, connection=connection, action=action, actor=actor if _is_user(actor) else None, started_at=now
            )
    except IntegrityError:
        pass
    if InFlightAction.objects.filter(key=key, finished_at__isnull=False).exists():
        raise ActionRefused("This form was already sent once; nothing was sent to AWS again.")
    # Somebody holds the key. Take it over only if that claim is abandoned (its process died):
    # a conditional UPDATE, so of two takers only one wins.
    taken = InFlightAction.objects.filter(key=key, finished_at__isnull=True, started_at__lt=now - CLAIM_TIMEOUT).update(
        connection=connection, action=action, actor=actor if _is_user(actor) else None, started_at=now
    )
    if taken != 1:
        raise ActionInFlight(
            "Another action on this item is already under way (perhaps a second click, or a colleague). "
            "Nothing was sent to AWS again; reload in a moment to see the result."
        )
    return InFlightAction.objects.get(key=key)


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _release(claim: InFlightAction, *, keep: bool) -> None:
    if keep:
        InFlightAction.objects.filter(pk=claim.pk).update(finished_at=timezone.now())
    else:
        InFlightAction.objects.filter(pk=claim.pk).delete()


def perform(
    *,
    connection: AwsConnection,
    actor: Any,
    request: HttpRequest | None,
    action: str,
    resource: str,
    key: str,
    operation: str,
    params: dict[str, Any],
    audit_params: dict[str, Any] | None = None,
    guard: Callable[[], None] | None = None,
    apply: Callable[[dict[str, Any]], T],
    resync: Callable[[], str] | None = None,
    submission: str = "",
) -> Outcome:
    """Run one action through the write path (see the module docstring). Returns the applied
    result and the AWS request id; raises ActionRefused (nothing sent) or ActionFailed (AWS said
    no; the error is audited and the resource resynced when the cache was wrong).

    `key` is the resource claim; `submission` (a form's one-time token) adds a claim that is kept,
    so the same form posted twice is refused even after the first post has finished.
    `params` go to AWS; `audit_params` (default: `params`) go to the audit trail — never secrets.
    """
    who: dict[str, Any] = {"actor": actor} if _is_user(actor) else {"actor_label": "system"}
    # Every event of this action: the same resource and parameters, the roles read once.
    event: dict[str, Any] = {
        "action": action,
        "request": request,
        "connection": connection,
        "resource": resource,
        "params": dict(params if audit_params is None else audit_params),
        "roles_cache": {},
        **who,
    }

    with transaction.atomic():
        submission_claim = None
        if submission:
            submission_claim = _claim(key=f"submission:{submission}", connection=connection, action=action, actor=actor)
        claim = _claim(key=key, connection=connection, action=action, actor=actor)
        if guard is not None:
            # Runs on the row as committed by whoever held the claim before us: a straggler
            # of twenty concurrent clicks sees the new state here and never reaches AWS.
            guard()
        record(**event, outcome="intent")

    def finish(outcome: str, **details: Any) -> None:
        """Audit the outcome and release the claims (the submission's is kept: a form posts once)."""
        record(**event, outcome=outcome, **details)
        _release(claim, keep=False)
        if submission_claim is not None:
            _release(submission_claim, keep=True)

    try:
        response = aws.call(connection, operation, purpose="action", **params)
    except aws.AwsError as error:
        with transaction.atomic():
            finish("error", aws_request_id=error.request_id, error=f"{error.code}: {error.message}"[:2000])
        note = ""
        if error.code in STALE_CACHE_CODES and resync is not None:
            # Never trust the cache: AWS knows better. Refresh this one resource now.
            try:
                note = resync()
            except aws.AwsError as resync_error:
                logger.warning("resync of %s after %s failed: %s", resource, error.code, resync_error.code)
                note = "The portal could not refresh it from AWS just now; the next sync will."
        raise ActionFailed(error, resynced=bool(note), resync_note=note) from None
    except BaseException:
        # Not an AWS answer (a bug, a worker shutdown): release the claim so nobody is blocked,
        # and leave an error row beside the intent.
        with transaction.atomic():
            finish("error", error="The portal failed before AWS answered.")
        raise

    request_id = response.request_id
    with transaction.atomic():
        result = apply(response.data)
        finish("ok", aws_request_id=request_id)
    return Outcome(result=result, request_id=request_id)


def apply_to_row(obj: Any, mirror: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Write `values` (AWS fields mapped as the sync maps them) to the cached row `obj` and record
    an "action" change; returns the diff. The fingerprint is computed exactly as the sync does, so
    the next sync, seeing the same state in AWS, writes nothing more. Call inside the outcome
    transaction. `mirror` is the sync's `Mirror` of the row's model."""
    from orgportal.history import ObservedChange
    from orgportal.sync import fingerprint, normalize, to_json

    values = {name: normalize(value) for name, value in values.items() if name in mirror.fields}
    diff = {
        name: [to_json(getattr(obj, name)), to_json(value)]
        for name, value in values.items()
        if to_json(getattr(obj, name)) != to_json(value)
    }
    creating = obj.pk is None
    for name, value in values.items():
        setattr(obj, name, value)
    if not diff and not creating and obj.vanished_at is None:
        return diff
    now = timezone.now()
    obj.fingerprint = fingerprint({name: getattr(obj, name) for name in mirror.fields}, mirror.fields)
    obj.vanished_at = None
    obj.changed_at = now
    if creating:
        obj.first_seen_at = now
        diff = {name: [None, to_json(getattr(obj, name))] for name in mirror.fields if name != mirror.key_field}
    obj.save()
    mirror.change_model.objects.create(
        **{mirror.change_fk: obj}, kind=ObservedChange.Kind.ACTION, changes=diff, observed_at=now
    )
    return diff


def action_view(*, role: str, target: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view as state-changing: signed-in users only, GET (shows the form) and POST (acts),
    and the role and the kind of object it acts on, which the role-matrix test reads from the
    URLconf — so a new action URL cannot escape the matrix. The view itself still authorizes
    through `orgportal.roles` (the object lookup with `role`)."""
    from django.contrib.auth.decorators import login_required
    from django.views.decorators.http import require_http_methods

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = login_required(require_http_methods(["GET", "POST"])(view))
        wrapped.action_role = role  # type: ignore[attr-defined]
        wrapped.action_target = target  # type: ignore[attr-defined]
        return wrapped

    return decorate
