"""Two-person approval: the gate that turns a covered action into a request, and what people do
with a request — approve (which runs the held action), reject, withdraw — and its lapse.

- The gate (`gate`, registered on the write path) runs inside each covered service before its
  claim: when the connection's rule covers the action, it stores a request with the service's
  arguments and the exact AWS call, and raises `ActionHeld`: 0 AWS calls.
- A decision is a conditional UPDATE from `pending` (`_decide`): of ten approvers at once, or an
  approver and the withdrawing requester, exactly one wins and the others are told what happened.
- The approver who wins runs the SAME service with the stored arguments, as themselves (they hold
  the checker role and the action's role; the requester must still hold it too); the gate lets
  exactly that request's action through (`_executing`). The service's own claim still keeps one
  action in flight per resource.
- The requester never decides their own request: not by a second login, not as a superuser.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from orgportal.models import Role
from orgportal.roles import has_role, roles_on
from orgportal.writepath import ActionFailed, ActionHeld, ActionRefused, PlannedAction

from . import events
from .covered import RULE_CHANGE, covered, json_params, to_json
from .models import DEFAULT_ANSWER_WINDOW, ApprovalRequest, ApprovalRule, State

# (connection id, action, resource) of the approved request this thread is running, if any.
_executing: ContextVar[tuple[int, str, str] | None] = ContextVar("approvals_executing", default=None)


@contextmanager
def _running(approval: ApprovalRequest) -> Iterator[None]:
    token = _executing.set((approval.connection_id, approval.action, approval.resource))
    try:
        yield
    finally:
        _executing.reset(token)


def _when(moment: Any) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i T")


def _role_label(role: str) -> str:
    return str(Role(role).label)


# --- the gate ---------------------------------------------------------------------------------------


def gate(planned: PlannedAction) -> None:
    """Hold `planned` as a request when its connection's rule covers it (see the module docstring)."""
    if _executing.get() == (planned.connection.pk, planned.action, planned.resource):
        return
    rule = ApprovalRule.objects.filter(connection=planned.connection).first()
    if rule is None or not rule.is_on:
        return
    if planned.action == RULE_CHANGE:
        arguments = planned.arguments
        if not rule.loosened_by(actions=arguments["actions"], checker_role=arguments["checker_role"]):
            return
        checker_role: str = Role.ADMIN  # a second admin
    elif planned.action in rule.actions and covered(planned.action).applies(planned):
        checker_role = rule.checker_role
    else:
        return
    if not getattr(planned.actor, "is_authenticated", False):
        raise ActionRefused("This action needs a second person's approval; the portal cannot ask for it on its own.")
    approval = request_create(planned, checker_role=checker_role)
    who = "admin" if planned.action == RULE_CHANGE else f"person with the {_role_label(checker_role)} role"
    raise ActionHeld(
        f"Sent for approval as request #{approval.pk}: another {who} must approve it by "
        f"{_when(approval.answer_by)}. Nothing was sent to AWS yet.",
        held=approval,
        url=reverse("approval_detail", args=[approval.pk]),
    )


def request_create(planned: PlannedAction, *, checker_role: str) -> ApprovalRequest:
    """Store the held action as a pending request (audited; listeners told)."""
    now = timezone.now()
    arguments = to_json(planned.arguments)
    # The resource's own deadline when AWS sets one (its answer-by moment); else the portal's window.
    answer_by = covered(planned.action).deadline(arguments) or now + DEFAULT_ANSWER_WINDOW
    if answer_by <= now:
        raise ActionRefused("Too late to ask for approval: AWS would no longer take this.", status=409)
    approval = ApprovalRequest(
        connection=planned.connection,
        action=planned.action,
        resource=planned.resource,
        operation=planned.operation,
        params=json_params(planned.params),
        arguments=arguments,
        checker_role=checker_role,
        requester=planned.actor,
        requester_label=planned.actor.get_username(),
        requested_at=now,
        answer_by=answer_by,
        submission=planned.submission,
    )
    try:
        with transaction.atomic():
            approval.save()
            events.request_created(approval, request=planned.request)
    except IntegrityError:
        if planned.submission and ApprovalRequest.objects.filter(submission=planned.submission).exists():
            raise ActionRefused("This form was already sent once; its request is waiting.") from None
        waiting = ApprovalRequest.objects.filter(
            connection=planned.connection,
            action=planned.action,
            resource=planned.resource,
            state__in=[State.PENDING, State.APPROVED],
        ).first()
        number = f" (#{waiting.pk}, asked by {waiting.requester_label})" if waiting else ""
        raise ActionRefused(
            f"A request for this is already waiting for approval{number}; nothing new was asked."
        ) from None
    return approval


# --- who may decide ---------------------------------------------------------------------------------


def required_roles(approval: ApprovalRequest) -> frozenset[str]:
    """What a checker holds: the rule's checker role and the role the action itself needs."""
    return frozenset({approval.checker_role, covered(approval.action).role})


def may_decide(approval: ApprovalRequest, user: Any, roles: frozenset[str] | None = None) -> bool:
    """True when `user` is not the requester and holds every role `required_roles` names."""
    if not getattr(user, "is_authenticated", False) or user.pk == approval.requester_id:
        return False
    held = roles if roles is not None else roles_on(user, approval.connection)
    return required_roles(approval) <= held


def require_checker(approval: ApprovalRequest, user: Any) -> None:
    """PermissionDenied unless `user` holds the roles a checker of `approval` needs (the requester
    is refused by the decision itself, audited)."""
    missing = required_roles(approval) - roles_on(user, approval.connection)
    if missing:
        names = " and ".join(sorted(_role_label(role) for role in missing))
        raise PermissionDenied(f"Approving this needs the {names} role on {approval.connection.name}.")


def _refuse_own(approval: ApprovalRequest, actor: Any, request: HttpRequest | None, *, verb: str) -> None:
    if actor.pk == approval.requester_id:
        why = "You asked for this yourself: a different person must approve or reject it."
        with transaction.atomic():
            events.request_refused(approval, actor=actor, verb=verb, why=why, request=request)
        raise ActionRefused(why, status=403)


# --- decisions ---------------------------------------------------------------------------------------


def _decide(approval: ApprovalRequest, *, to: str, actor: Any, reason: str) -> None:
    """pending → `to`, by a conditional UPDATE; the loser reads who won, in words."""
    won = ApprovalRequest.objects.filter(pk=approval.pk, state=State.PENDING).update(
        state=to,
        decided_by=actor,
        decided_by_label=actor.get_username(),
        decided_at=timezone.now(),
        reason=reason,
    )
    approval.refresh_from_db()
    if won != 1:
        raise ActionRefused(too_late(approval), status=409)


def too_late(approval: ApprovalRequest) -> str:
    """What a second decision-maker is told: what already happened to the request."""
    by = f" by {approval.decided_by_label}" if approval.decided_by_label else ""
    at = f" at {_when(approval.decided_at)}" if approval.decided_at else ""
    match approval.state:
        case State.LAPSED:
            return f"Too late: this request lapsed ({approval.outcome}). Nothing was sent."
        case State.WITHDRAWN:
            return f"Too late: {approval.requester_label} withdrew this request{at}. Nothing was sent."
        case State.REJECTED:
            return f"Too late: this request was already rejected{by}{at}."
    return f"Too late: this request was already approved{by}{at}; it is {approval.get_state_display().lower()}."


def _finish(approval: ApprovalRequest, state: str, outcome: str) -> None:
    ApprovalRequest.objects.filter(pk=approval.pk).update(state=state, outcome=outcome, finished_at=timezone.now())
    approval.refresh_from_db()


def lapse_reason(approval: ApprovalRequest, *, refresh: bool) -> str:
    """Why `approval` no longer stands ("" if it does): its answer-by moment passed, the requester
    lost the role to do it, or the resource changed in AWS (re-read from AWS when `refresh`)."""
    if approval.is_due():
        return f"Its answer-by moment ({_when(approval.answer_by)}) passed."
    action = covered(approval.action)
    requester = approval.requester
    if requester is None or not requester.is_active:
        return "The person who asked for it no longer has an account."
    if not has_role(requester, approval.connection, action.role):
        return f"{approval.requester_label} no longer holds the {_role_label(action.role)} role."
    return action.moot(approval.connection, approval.arguments, refresh)


def _lapse(approval: ApprovalRequest, why: str, *, actor: Any, request: HttpRequest | None, source: str) -> None:
    """`source` → lapsed (conditional), audited; nothing is sent."""
    with transaction.atomic():
        moved = ApprovalRequest.objects.filter(pk=approval.pk, state=source).update(
            state=State.LAPSED, outcome=why, finished_at=timezone.now()
        )
        approval.refresh_from_db()
        if moved == 1:
            events.request_lapsed(approval, actor=actor, request=request)


def lapse_if_moot(
    approval: ApprovalRequest, *, refresh: bool = False, actor: Any = None, request: HttpRequest | None = None
) -> bool:
    """Lapse a pending request that no longer stands; True if it is (now) lapsed."""
    if approval.state != State.PENDING:
        return approval.state == State.LAPSED
    why = lapse_reason(approval, refresh=refresh)
    if why:
        _lapse(approval, why, actor=actor, request=request, source=State.PENDING)
    return approval.state == State.LAPSED


def _decided(approval: ApprovalRequest, *, to: str, actor: Any, reason: str, request: HttpRequest | None) -> None:
    """pending → `to` (or ActionRefused for the loser of a race), audited in the same transaction."""
    with transaction.atomic():
        _decide(approval, to=to, actor=actor, reason=reason)
        events.request_decided(approval, actor=actor, request=request)


def _checker_decides(
    approval: ApprovalRequest, *, to: str, verb: str, actor: Any, reason: str, request: HttpRequest | None
) -> None:
    """A checker's decision: never on their own request, never on one that no longer stands."""
    require_checker(approval, actor)
    _refuse_own(approval, actor, request, verb=verb)
    if lapse_if_moot(approval, actor=actor, request=request):
        raise ActionRefused(f"This request lapsed: {approval.outcome} Nothing was sent.", status=409)
    _decided(approval, to=to, actor=actor, reason=reason, request=request)


def request_approve(
    *, approval: ApprovalRequest, actor: Any, reason: str = "", request: HttpRequest | None = None
) -> ApprovalRequest:
    """Approve a pending request and run its action: the same service, the stored arguments, as
    `actor` on the requester's behalf. Raises ActionRefused (nothing sent) when the requester
    approves, when someone else decided first, or when the request lapsed; ActionFailed when AWS
    refused the call (the request is then `failed`)."""
    _checker_decides(approval, to=State.APPROVED, verb="approve", actor=actor, reason=reason, request=request)
    # Only the winner gets here: look at AWS now (a read), so a moot request sends nothing.
    why = lapse_reason(approval, refresh=True)
    if why:
        _lapse(approval, why, actor=actor, request=request, source=State.APPROVED)
        raise ActionRefused(f"This request lapsed: {why} Nothing was sent.", status=409)
    try:
        with _running(approval):
            covered(approval.action).run(
                approval.arguments, connection=approval.connection, actor=actor, request=request
            )
    except (ActionFailed, ActionRefused, PermissionDenied) as error:
        message = getattr(error, "message", None) or str(error)
        with transaction.atomic():
            _finish(approval, State.FAILED, message)
            events.request_executed(approval, actor=actor, request=request)
        raise
    with transaction.atomic():
        _finish(approval, State.EXECUTED, "Sent and applied." if approval.operation else "Applied.")
        events.request_executed(approval, actor=actor, request=request)
    return approval


def request_reject(
    *, approval: ApprovalRequest, actor: Any, reason: str, request: HttpRequest | None = None
) -> ApprovalRequest:
    """Reject a pending request with a reason; nothing is sent."""
    _checker_decides(approval, to=State.REJECTED, verb="reject", actor=actor, reason=reason, request=request)
    return approval


def request_withdraw(
    *, approval: ApprovalRequest, actor: Any, reason: str = "", request: HttpRequest | None = None
) -> ApprovalRequest:
    """The requester takes a pending request back; nothing is sent."""
    if not getattr(actor, "is_authenticated", False) or actor.pk != approval.requester_id:
        raise PermissionDenied("Only the person who asked for it can withdraw this request.")
    _decided(approval, to=State.WITHDRAWN, actor=actor, reason=reason, request=request)
    return approval


def lapse_due(*, refresh: bool = True) -> int:
    """Lapse every pending request that no longer stands (beat runs this); how many lapsed.
    `refresh` re-reads each request's resource from AWS (one read per pending request)."""
    lapsed = 0
    for approval in ApprovalRequest.objects.filter(state=State.PENDING).select_related(
        "connection", "connection__read_credentials", "requester"
    ):
        if lapse_if_moot(approval, refresh=refresh):
            lapsed += 1
    return lapsed
