"""What AWS does not keep: a connection's two-person rule, and the requests it holds.

An `ApprovalRequest` stores what was asked exactly as it will be run: the service's own arguments
(`arguments`, objects by their row id) and the AWS call it makes (`operation`, `params`), so an
approval re-enters nothing. Its state moves only by conditional UPDATE from `pending` (see
`approvals.services`), so of two approvers, or an approver and a withdrawing requester, one wins.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from orgportal.models import AwsConnection, Role

# How long a request waits for a second person when its resource sets no deadline of its own.
DEFAULT_ANSWER_WINDOW = timedelta(days=7)

# The roles a rule may ask of the checker (each also needs the role the action itself needs).
CHECKER_ROLES = [
    (Role.APPROVER.value, Role.APPROVER.label),
    (Role.OPERATOR.value, Role.OPERATOR.label),
    (Role.ADMIN.value, Role.ADMIN.label),
]


class ApprovalRule(models.Model):
    """Which actions on one connection need a second person, and the role that person holds.
    On when `actions` is not empty."""

    connection = models.OneToOneField(AwsConnection, on_delete=models.CASCADE, related_name="approval_rule")
    actions = models.JSONField(default=list, blank=True)  # keys of approvals.covered.COVERED
    checker_role = models.CharField(max_length=16, choices=CHECKER_ROLES, default=Role.APPROVER)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"approval rule of {self.connection}"

    @property
    def is_on(self) -> bool:
        return bool(self.actions)

    def loosened_by(self, *, actions: list[str], checker_role: str) -> bool:
        """True when the change would let something through that the rule holds today: an action
        taken off, or another checker role. Only adding actions tightens."""
        return self.is_on and (not set(self.actions) <= set(actions) or checker_role != self.checker_role)


class State(models.TextChoices):
    PENDING = "pending", "Waiting for a second person"
    APPROVED = "approved", "Approved, being sent"
    REJECTED = "rejected"  # Django labels these three from their names: "Rejected"...
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"
    EXECUTED = "executed", "Approved and sent"
    FAILED = "failed", "Approved, AWS refused"


OPEN_STATES = (State.PENDING, State.APPROVED)


class ApprovalRequest(models.Model):
    """One held action: what, on which resource, exactly what will be sent, by whom, until when."""

    connection = models.ForeignKey(AwsConnection, on_delete=models.CASCADE, related_name="approval_requests")
    action = models.CharField(max_length=64)  # the audit action name: handshake.accept...
    resource = models.CharField(max_length=512)  # the AWS id (or the invited party)
    operation = models.CharField(max_length=64, blank=True)  # the AWS call; blank for a portal setting
    params = models.JSONField(default=dict, blank=True)  # the call's parameters as they will be sent
    arguments = models.JSONField(default=dict, blank=True)  # the service's arguments, objects by id
    checker_role = models.CharField(max_length=16, choices=CHECKER_ROLES)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="approval_requests"
    )
    requester_label = models.CharField(max_length=150)
    requested_at = models.DateTimeField(default=timezone.now)
    answer_by = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    reason = models.TextField(blank=True)  # the checker's reason, or the requester's on withdrawal
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)  # what happened in the end, in words (or why it lapsed)
    finished_at = models.DateTimeField(null=True, blank=True)
    submission = models.CharField(max_length=64, blank=True)  # the form's one-time token

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open request per action and resource: a double click or a colleague asking the
            # same thing finds the first one.
            models.UniqueConstraint(
                fields=["connection", "action", "resource"],
                condition=Q(state__in=["pending", "approved"]),
                name="one_open_approval_request",
            ),
            models.UniqueConstraint(fields=["submission"], condition=~Q(submission=""), name="approval_submission"),
        ]
        indexes = [models.Index(fields=["state", "answer_by"]), models.Index(fields=["connection", "state"])]

    def __str__(self) -> str:
        return f"approval request #{self.pk} {self.action} {self.resource} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state == State.PENDING

    def is_due(self) -> bool:
        return self.answer_by <= timezone.now()
