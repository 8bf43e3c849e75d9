"""The write path: the ONE way a portal action reaches AWS.

A service writes its action top to bottom, in the order it happens:

    def handshake_accept(*, handshake, actor, request=None) -> Handshake:
        require_role(actor, handshake.connection, Role.APPROVER)          # who may
        with ActionClaim(connection=..., actor=actor, request=request, action="handshake.accept",
                         resource=..., key=resource_key("handshake", ...), resync=...) as claim:
            check_open(fresh(handshake))                                  # the guard, on the fresh row
            data = claim.call("AcceptHandshake", {"HandshakeId": ...})   # the AWS call
            return apply_handshake(handshake=handshake, data=data["Handshake"])  # what to apply

and the claim does the rest, in this order:

1. entering the block claims the resource in the database (an `InFlightAction` row with a unique
   key: the second INSERT fails on SQLite and PostgreSQL alike) inside a transaction; the code
   before `call()` — the state guard — runs in that transaction, on the row as committed by
   whoever held the claim before; `call()` audits the intent and commits, so that every other
   process sees the claim before AWS is called;
2. `call()` calls AWS through the gateway with the connection's *action* credentials, outside any
   transaction (a slow AWS call must not hold a database lock);
3. the code after `call()` applies the response to the cached rows inside the outcome
   transaction; leaving the block audits the outcome with the AWS request id and releases the
   claim in that same transaction. On an AWS error `call()` audits the error code and request id,
   releases the claim and raises `ActionFailed`;
4. when AWS says the cache was wrong (the handshake already moved, the transfer is gone), the
   claim's `resync` refreshes that one resource so the page shows the truth, and the user reads
   that in plain words.

Because the guard runs *after* the claim, twenty concurrent clicks make one AWS call, and the
nineteen others see either "already in progress" or the new state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from audit.events import record
from orgportal import aws
from orgportal.history import ObservedChange
from orgportal.models import AwsConnection, InFlightAction
from orgportal.sync import fingerprint, normalize, to_json

logger = logging.getLogger(__name__)

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


class ActionHeld(ActionRefused):
    """Nothing was sent to AWS *yet*: a gate holds the action (a second person must approve it).
    `held` is what the gate made of it, `url` the page that says what happens next."""

    status = 202

    def __init__(self, message: str, *, held: Any, url: str) -> None:
        super().__init__(message)
        self.held = held
        self.url = url


@dataclass(frozen=True)
class PlannedAction:
    """An action a service is about to claim and send, told to the gates first: who, on which
    resource, the exact AWS call, and the service's own `arguments` (besides the connection, the
    actor and the request), so that a gate that holds it can run the same service later with
    nothing re-entered."""

    action: str
    connection: AwsConnection
    actor: Any
    request: HttpRequest | None
    resource: str
    operation: str
    params: dict[str, Any]
    arguments: dict[str, Any]
    submission: str = ""


# Gates see every planned action before its claim and may hold it by raising ActionHeld (or refuse
# it with ActionRefused). A feature app registers one from its AppConfig.ready(), so the write
# path never imports the app that holds actions (two-person approval: approvals.services.gate).
Gate = Callable[[PlannedAction], None]
_GATES: list[Gate] = []


def register_gate(gate: Gate) -> None:
    if gate not in _GATES:
        _GATES.append(gate)


def pass_gates(planned: PlannedAction) -> None:
    """Let every registered gate see `planned`; returns only if none holds or refuses it. A
    service calls this after its role and cheap guard, before its `ActionClaim`."""
    for gate in _GATES:
        gate(planned)


def resource_key(kind: str, aws_id: str) -> str:
    """The claim key of one AWS object: the same for every connection that sees it, so the
    sender and the recipient of a handshake cannot act on it at the same instant either."""
    return f"{kind}:{aws_id}"


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


@dataclass(kw_only=True, eq=False)
class ActionClaim:
    """One action on one resource, claimed in the database for as long as it runs (see the module
    docstring). Use it as a context manager; call `call()` exactly once inside the block.

    `key` is the resource claim (`resource_key`); `submission` (a form's one-time token) adds a
    claim that is kept, so the same form posted twice is refused even after the first post has
    finished. `resync` re-reads the resource from AWS when AWS says the cache was stale and
    returns a sentence for the user.
    """

    connection: AwsConnection
    actor: Any
    request: InitVar[HttpRequest | None]
    action: str
    resource: str
    key: str
    submission: str = ""
    resync: Callable[[], str] | None = None
    request_id: str = field(default="", init=False)

    def __post_init__(self, request: HttpRequest | None) -> None:
        actor = self.actor
        # Every audit event of this action: the same resource and parameters, the roles read once.
        who: dict[str, Any] = {"actor": actor} if _is_user(actor) else {"actor_label": "system"}
        self._event: dict[str, Any] = {
            "action": self.action,
            "request": request,
            "connection": self.connection,
            "resource": self.resource,
            "params": {},
            "roles_cache": {},
            **who,
        }
        self._claims: list[tuple[InFlightAction, bool]] = []
        self._transaction: transaction.Atomic | None = None
        self._phase = "new"  # -> "claimed" -> "applying" -> "done"

    # --- the block ------------------------------------------------------------------------------

    def __enter__(self) -> ActionClaim:
        self._begin()
        try:
            if self.submission:
                self._claims.append((self._claim(f"submission:{self.submission}"), True))
            self._claims.append((self._claim(self.key), False))
        except BaseException as error:
            self._end(error)
            raise
        self._phase = "claimed"
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        phase, self._phase = self._phase, "done"
        if phase == "claimed":
            # The guard refused (or the block never called AWS): the claim never existed.
            if exc is None:
                transaction.set_rollback(True)
            self._end(exc)
        elif phase == "applying":
            if exc is None:
                self._finish("ok", aws_request_id=self.request_id)
                self._end(None)
                return
            # AWS did the action but its answer could not be written: say so beside the intent,
            # and free the resource (the next sync brings the cache up to date).
            self._end(exc)
            with transaction.atomic():
                self._finish(
                    "error",
                    aws_request_id=self.request_id,
                    error="AWS accepted the call; the portal failed to record its answer (the next sync will).",
                )

    def call(self, operation: str, params: dict[str, Any], *, audit: dict[str, Any] | None = None) -> dict[str, Any]:
        """Audit the intent, commit the claim, call AWS `operation` with `params` (outside any
        transaction) and return AWS's answer; the code after this runs in the outcome transaction.
        `audit` (default: `params`) is what the trail keeps of the parameters — never secrets."""
        if self._phase != "claimed":
            raise RuntimeError("ActionClaim.call() runs once, inside the `with` block.")
        self._event["params"] = dict(params if audit is None else audit)
        record(**self._event, outcome="intent")
        self._end(None)
        self._phase = "done"
        try:
            response = aws.call(self.connection, operation, purpose="action", **params)
        except aws.AwsError as error:
            with transaction.atomic():
                self._finish("error", aws_request_id=error.request_id, error=f"{error.code}: {error.message}"[:2000])
            raise ActionFailed(error, **self._resynced(error)) from None
        except BaseException:
            # Not an AWS answer (a bug, a worker shutdown): release the claim so nobody is blocked,
            # and leave an error row beside the intent.
            with transaction.atomic():
                self._finish("error", error="The portal failed before AWS answered.")
            raise
        self.request_id = response.request_id
        self._begin()
        self._phase = "applying"
        data: dict[str, Any] = response.data
        return data

    # --- inside -----------------------------------------------------------------------------------

    def _begin(self) -> None:
        self._transaction = transaction.atomic()
        self._transaction.__enter__()

    def _end(self, error: BaseException | None) -> None:
        assert self._transaction is not None
        atomic, self._transaction = self._transaction, None
        if error is None:
            atomic.__exit__(None, None, None)
        else:
            atomic.__exit__(type(error), error, error.__traceback__)

    def _claim(self, key: str) -> InFlightAction:
        now = timezone.now()
        actor = self.actor if _is_user(self.actor) else None
        try:
            with transaction.atomic():
                return InFlightAction.objects.create(
                    key=key, connection=self.connection, action=self.action, actor=actor, started_at=now
                )
        except IntegrityError:
            pass
        if InFlightAction.objects.filter(key=key, finished_at__isnull=False).exists():
            raise ActionRefused("This form was already sent once; nothing was sent to AWS again.")
        # Somebody holds the key. Take it over only if that claim is abandoned (its process died):
        # a conditional UPDATE, so of two takers only one wins.
        taken = InFlightAction.objects.filter(
            key=key, finished_at__isnull=True, started_at__lt=now - CLAIM_TIMEOUT
        ).update(connection=self.connection, action=self.action, actor=actor, started_at=now)
        if taken != 1:
            raise ActionInFlight(
                "Another action on this item is already under way (perhaps a second click, or a colleague). "
                "Nothing was sent to AWS again; reload in a moment to see the result."
            )
        return InFlightAction.objects.get(key=key)

    def _finish(self, outcome: str, **details: Any) -> None:
        """Audit the outcome and release the claims (a submission's is kept: a form posts once)."""
        record(**self._event, outcome=outcome, **details)
        for claim, keep in self._claims:
            if keep:
                InFlightAction.objects.filter(pk=claim.pk).update(finished_at=timezone.now())
            else:
                InFlightAction.objects.filter(pk=claim.pk).delete()

    def _resynced(self, error: aws.AwsError) -> dict[str, Any]:
        if error.code not in STALE_CACHE_CODES or self.resync is None:
            return {}
        # Never trust the cache: AWS knows better. Refresh this one resource now.
        try:
            note = self.resync()
        except aws.AwsError as resync_error:
            logger.warning("resync of %s after %s failed: %s", self.resource, error.code, resync_error.code)
            note = "The portal could not refresh it from AWS just now; the next sync will."
        return {"resynced": bool(note), "resync_note": note}


def apply_to_row(obj: Any, mirror: Any, values: dict[str, Any], *, vanished: bool = False) -> dict[str, list[Any]]:
    """Write `values` (AWS fields mapped as the sync maps them) to the cached row `obj` and record
    an "action" change; returns the diff. The fingerprint is computed exactly as the sync does, so
    the next sync, seeing the same state in AWS, writes nothing more. Call inside the outcome
    transaction. `mirror` is the sync's `Mirror` of the row's model; a row whose mirror keeps no
    history (a policy's attachment) is written the same way, without the change row.

    `vanished`: AWS answered that the object is gone (deleted, detached): the row is marked so,
    never deleted, and its history says so as a sync would."""
    now = timezone.now()
    if vanished:
        if obj.vanished_at is not None:
            return {}
        obj.vanished_at = obj.changed_at = now
        obj.save(update_fields=["vanished_at", "changed_at"])
        _history(obj, mirror, ObservedChange.Kind.VANISHED, {}, now)
        return {}
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
    obj.fingerprint = fingerprint({name: getattr(obj, name) for name in mirror.fields}, mirror.fields)
    obj.vanished_at = None
    obj.changed_at = now
    if creating:
        obj.first_seen_at = now
        diff = {name: [None, to_json(getattr(obj, name))] for name in mirror.fields if name != mirror.key_field}
    obj.save()
    _history(obj, mirror, ObservedChange.Kind.ACTION, diff, now)
    return diff


def _history(obj: Any, mirror: Any, kind: str, changes: dict[str, Any], now: Any) -> None:
    if mirror.change_model is not None:
        mirror.change_model.objects.create(
            **{mirror.change_fk: obj}, connection_id=obj.connection_id, kind=kind, changes=changes, observed_at=now
        )


def action_view(*, role: str, target: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view as state-changing: signed-in users only, GET (shows the form) and POST (acts),
    and the role and the kind of object it acts on, which the role-matrix test reads from the
    URLconf — so a new action URL cannot escape the matrix. The view itself still authorizes
    through `orgportal.roles` (the object lookup with `role`)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = login_required(require_http_methods(["GET", "POST"])(view))
        wrapped.action_role = role  # type: ignore[attr-defined]
        wrapped.action_target = target  # type: ignore[attr-defined]
        return wrapped

    return decorate
