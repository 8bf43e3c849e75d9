"""The one place a request's life is told: created, decided (approved, rejected, withdrawn),
lapsed, and its outcome. Each writes the audit event (who, when, chained like every other event,
so the CSV export carries it) and then tells every listener — the seam where notifications
(approvers' inboxes by mail, the calendar) hook in from their own `AppConfig.ready()`:
`listeners.append(fn)`, `fn(kind, request)`. This app imports no listener; with none registered
a request lives on exactly the same.

A listener runs INSIDE the transaction that made the change (every caller in `approvals.services`
holds one), so what it writes (notifications' event and delivery rows) commits with the change or
not at all: a crash after the commit loses nothing, a retry finds the change made. A listener
that raises is not swallowed: the change, its audit event and every listener's rows roll back
together and the caller sees the error, so nothing is half told."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from audit.events import record

from .models import ApprovalRequest

# kind is "created", "approved", "rejected", "withdrawn", "lapsed", "executed" or "failed".
Listener = Callable[[str, ApprovalRequest], None]
listeners: list[Listener] = []


def _details(approval: ApprovalRequest, **more: Any) -> dict[str, Any]:
    return {
        "request": approval.pk,
        "requested_action": approval.action,
        "operation": approval.operation,
        "aws_params": approval.params,
        "requested_by": approval.requester_label,
        "answer_by": approval.answer_by.isoformat(),
        **more,
    }


def _tell(kind: str, approval: ApprovalRequest) -> None:
    if not listeners:
        return
    # atomic(): a savepoint in the caller's transaction (and one of its own if a caller had none),
    # so several listeners' writes stand or fall together with the change.
    with transaction.atomic():
        for listener in list(listeners):
            listener(kind, approval)


def _audit(
    approval: ApprovalRequest,
    verb: str,
    *,
    actor: Any,
    request: HttpRequest | None,
    details: dict[str, Any] | None = None,
    **outcome: Any,
) -> None:
    """One `approval.<verb>` event on the request's connection and resource, with its details."""
    record(
        action=f"approval.{verb}",
        actor=actor,
        request=request,
        connection=approval.connection,
        resource=approval.resource,
        params=_details(approval, **(details or {})),
        **outcome,
    )


def request_created(approval: ApprovalRequest, *, request: HttpRequest | None = None) -> None:
    _audit(
        approval, "request", actor=approval.requester, request=request, details={"checker_role": approval.checker_role}
    )
    _tell("created", approval)


def request_decided(approval: ApprovalRequest, *, actor: Any, request: HttpRequest | None = None) -> None:
    """Approved, rejected or withdrawn (`approval.state`), by `actor`, with the reason given."""
    verb = {"approved": "approve", "rejected": "reject", "withdrawn": "withdraw"}[approval.state]
    _audit(approval, verb, actor=actor, request=request, details={"reason": approval.reason})
    _tell(approval.state, approval)


def request_refused(
    approval: ApprovalRequest, *, actor: Any, verb: str, why: str, request: HttpRequest | None = None
) -> None:
    """A decision refused (the requester approving or rejecting their own request): audited as denied."""
    _audit(approval, verb, actor=actor, request=request, outcome="denied", error=why)


def request_lapsed(approval: ApprovalRequest, *, actor: Any = None, request: HttpRequest | None = None) -> None:
    label = "" if actor is not None else "system"
    _audit(approval, "lapse", actor=actor, request=request, details={"why": approval.outcome}, actor_label=label)
    _tell("lapsed", approval)


def request_executed(approval: ApprovalRequest, *, actor: Any, request: HttpRequest | None = None) -> None:
    """The outcome of an approved request: the service ran as the approver, on the requester's behalf."""
    failed = approval.state == "failed"
    _audit(
        approval,
        "execute",
        actor=actor,
        request=request,
        details={"on_behalf_of": approval.requester_label, "approved_by": approval.decided_by_label},
        outcome="error" if failed else "ok",
        error=approval.outcome if failed else "",
    )
    _tell(approval.state, approval)
