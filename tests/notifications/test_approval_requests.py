"""Two-person approval requests notify the people they concern and reach their calendars, with real
parts: boto3 to orgsim over HTTP for the held action, a real SMTP server (aiosmtpd) for the mail,
the calendar parsed by `icalendar`.

- A request is asked, by one email each, of everyone who may decide it on its connection (the
  checker role and the action's own role, implied roles counting) — never of the requester, of a
  viewer or auditor, or of an approver of another connection.
- The requester hears the answer (rejected with the checker's reason, escaped; approved and sent);
  those asked hear of a withdrawal or a lapse.
- The events and deliveries are written in the request's own transaction: they exist although
  the test's transaction never commits (no on_commit callback ever runs here), a listener that
  raises rolls the request back and the caller sees the error, and a re-run adds nothing.
- The calendar holds a pending request at its answer-by moment, with alarms, for those who may
  decide it only, and drops it once decided.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from approvals import events as approval_events
from approvals.models import ApprovalRequest, State
from approvals.services import lapse_due
from audit.models import AuditEvent
from notifications.delivery import deliver_due
from notifications.models import Delivery, Event, EventKind
from notifications.outbox import approval_told, when
from orgportal.models import Role
from tests.actions.conftest import Invitation, calls_of
from tests.approvals.conftest import People, rule_on
from tests.notifications.conftest import Smtp, text_of

pytestmark = pytest.mark.django_db

ACCEPT = {"confirmed": "on", "understood": "on"}
LABEL = "Accept a billing-transfer invitation"


def _ask(invitation: Invitation, people: People) -> ApprovalRequest:
    """april confirms the accept with the rule on: a request, nothing sent to AWS."""
    response = people.client("april").post(reverse("handshake_accept", args=[invitation.handshake.pk]), ACCEPT)
    approval = ApprovalRequest.objects.get()
    assert response.status_code == 302 and response.url == reverse("approval_detail", args=[approval.pk])
    return approval


def _to(kind: str) -> list[str]:
    """The usernames a `kind` event was delivered to (one row each), sorted."""
    rows = Delivery.objects.filter(event__kind=kind).select_related("recipient")
    return sorted(row.recipient.username for row in rows if row.recipient is not None)


def _subject(message: Any) -> str:
    return " ".join(str(message["Subject"]).split())  # unfolded


def _html_of(message: Any) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no html part")


def _calendar(user: Any) -> dict[str, Any]:
    """The user's calendar feed as a calendar app reads it (its secret URL, no session), parsed:
    UID -> VEVENT."""
    client = Client()
    client.force_login(user)
    page = client.post(reverse("notifications:calendar_rotate")).content.decode()
    url = page.split('id="calendar-url" aria-label="Calendar URL"')[0].rsplit('value="', 1)[1].split('"')[0]
    response = Client().get(url.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    parsed = Calendar.from_ical(response.content)
    return {str(event["UID"]): event for event in parsed.walk("VEVENT")}


def _uid(approval: ApprovalRequest) -> str:
    return f"approval-request-{approval.pk}@orgportal"


def test_a_request_is_asked_of_each_approver_by_one_email_never_of_the_requester(
    smtp: Smtp, orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask(billing_invitation, people)
    assert calls_of(orgsim, "AcceptHandshake") == 0

    # Written in the request's own transaction: the test's transaction never commits, yet they are here.
    event = Event.objects.get(kind=EventKind.APPROVAL_ASKED)
    assert event.key == f"approval_request.asked:{approval.connection_id}:{approval.pk}"
    assert event.due_at == approval.answer_by and sorted(event.audience) == sorted([people.bob.pk, people.carol.pk])
    assert _to(EventKind.APPROVAL_ASKED) == ["bob", "carol"]
    assert set(Delivery.objects.values_list("medium", flat=True)) == {"email"}

    assert deliver_due().sent == 2
    messages = smtp.wait_for(2)
    assert sorted(rcpt for envelope in smtp.envelopes for rcpt in envelope.rcpt_tos) == [
        "bob@example.com",
        "carol@example.com",
    ]
    handshake_id = billing_invitation.handshake.handshake_id
    for message in messages:
        assert _subject(message).startswith(f"[orgportal] Approval asked: {LABEL} ({handshake_id}) by april")
        body = text_of(message)
        # What is asked, on what, by whom, until when, why this person, and where to answer it.
        assert f"april asks a second person to approve: {LABEL}." in body
        assert f"Resource: {handshake_id} on Source." in body
        assert f"AcceptHandshake(HandshakeId={handshake_id})" in body
        assert f"Answer by {when(approval.answer_by)}" in body
        assert "Why you: the two-person rule of Source" in body and "Approver role" in body
        assert f"/approvals/{approval.pk}/" in body
        assert "april@example.com" not in str(message["To"])


def test_the_requester_hears_a_rejection_with_the_reason_escaped_and_nobody_else_does(
    smtp: Smtp, orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask(billing_invitation, people)
    reason = "<script>alert(1)</script> PO & budget missing"
    response = people.client("bob").post(
        reverse("approval_reject", args=[approval.pk]), {"confirmed": "on", "reason": reason}
    )
    assert response.status_code == 302

    assert _to(EventKind.APPROVAL_ANSWERED) == ["april"]
    assert not Delivery.objects.filter(event__kind=EventKind.APPROVAL_CLOSED).exists()  # bob decided; not closed
    assert deliver_due().sent == 3  # bob's and carol's "asked", april's answer
    [answer] = [m for m in smtp.wait_for(3) if m["To"] == "april@example.com"]
    assert f"Your request #{approval.pk} was rejected: {LABEL}" in _subject(answer)
    text = text_of(answer)
    assert f"bob rejected it; nothing was sent. Their reason: {reason}" in text
    assert f"/approvals/{approval.pk}/" in text
    html = _html_of(answer)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; PO &amp; budget missing" in html


def test_an_approval_tells_the_requester_it_was_sent_once_not_twice(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask(billing_invitation, people)
    response = people.client("bob").post(
        reverse("approval_approve", args=[approval.pk]), {"confirmed": "on", "reason": "Checked the PO"}
    )
    assert response.status_code == 302 and calls_of(orgsim, "AcceptHandshake") == 1

    [answer] = Event.objects.filter(kind=EventKind.APPROVAL_ANSWERED)
    assert answer.key.endswith(f":{approval.pk}:executed") and answer.audience == [people.april.pk]
    assert "approved and sent" in answer.title
    assert "bob approved it and it was sent: Sent and applied. Their reason: Checked the PO" in answer.body
    assert _to(EventKind.APPROVAL_ANSWERED) == ["april"]


def test_those_asked_hear_of_a_withdrawal_and_of_a_lapse_and_the_requester_of_the_lapse(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    connection = billing_invitation.source.connection
    rule_on(connection, "handshake.accept")
    first = _ask(billing_invitation, people)
    response = people.client("april").post(
        reverse("approval_withdraw", args=[first.pk]), {"confirmed": "on", "reason": "Wrong invitation"}
    )
    assert response.status_code == 302
    assert _to(EventKind.APPROVAL_CLOSED) == ["bob", "carol"]
    assert not Delivery.objects.filter(event__kind=EventKind.APPROVAL_ANSWERED).exists()  # she withdrew it herself
    withdrawn = Event.objects.get(kind=EventKind.APPROVAL_CLOSED)
    assert "april withdrew it; you need not answer. Their reason: Wrong invitation" in withdrawn.body

    second = _ask_again(billing_invitation, people)
    ApprovalRequest.objects.filter(pk=second.pk).update(answer_by=timezone.now() - timedelta(minutes=1))
    assert lapse_due(refresh=False) == 1
    lapsed = Event.objects.get(kind=EventKind.APPROVAL_ANSWERED)
    assert lapsed.audience == [people.april.pk] and "lapsed" in lapsed.title and "answer-by moment" in lapsed.body
    assert Event.objects.filter(kind=EventKind.APPROVAL_CLOSED).count() == 2
    assert _to(EventKind.APPROVAL_CLOSED) == ["bob", "bob", "carol", "carol"]


def _ask_again(invitation: Invitation, people: People) -> ApprovalRequest:
    response = people.client("april").post(reverse("handshake_accept", args=[invitation.handshake.pk]), ACCEPT)
    approval = ApprovalRequest.objects.filter(state=State.PENDING).get()
    assert response.status_code == 302
    return approval


def test_a_re_run_adds_nothing(orgsim: Any, billing_invitation: Invitation, people: People) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask(billing_invitation, people)
    people.client("bob").post(reverse("approval_reject", args=[approval.pk]), {"confirmed": "on", "reason": "No"})
    approval.refresh_from_db()
    before = (Event.objects.count(), Delivery.objects.count())
    assert before == (2, 3)

    # The listener called again for the same facts (a retried path, a second worker): the keys are taken.
    with transaction.atomic():
        approval_told("created", approval)
        approval_told(State.REJECTED, approval)
    assert (Event.objects.count(), Delivery.objects.count()) == before
    # A second decision on it is refused, and tells nobody anything.
    response = people.client("bob").post(
        reverse("approval_reject", args=[approval.pk]), {"confirmed": "on", "reason": "No"}
    )
    assert response.status_code == 409
    assert (Event.objects.count(), Delivery.objects.count()) == before


def test_a_listener_that_fails_rolls_the_change_back_and_says_so(
    orgsim: Any, billing_invitation: Invitation, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decided: a listener runs in the change's transaction, and its failure is the change's
    failure — nothing half done, nothing swallowed. The request is not stored (no audit event, no
    notification) and the error reaches the caller; asked again once the listener works, it is."""
    rule_on(billing_invitation.source.connection, "handshake.accept")

    def broken(kind: str, approval: ApprovalRequest) -> None:
        raise RuntimeError("the listener broke")

    monkeypatch.setattr(approval_events, "listeners", [approval_told, broken])
    with pytest.raises(RuntimeError, match="the listener broke"):
        people.client("april").post(reverse("handshake_accept", args=[billing_invitation.handshake.pk]), ACCEPT)
    assert not ApprovalRequest.objects.exists() and not Event.objects.exists() and not Delivery.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="approval.").exists()
    assert calls_of(orgsim, "AcceptHandshake") == 0

    monkeypatch.setattr(approval_events, "listeners", [approval_told])
    approval = _ask(billing_invitation, people)
    assert _to(EventKind.APPROVAL_ASKED) == ["bob", "carol"]

    # A decision whose listener fails is not taken either.
    monkeypatch.setattr(approval_events, "listeners", [approval_told, broken])
    with pytest.raises(RuntimeError):
        people.client("bob").post(reverse("approval_reject", args=[approval.pk]), {"confirmed": "on", "reason": "No"})
    approval.refresh_from_db()
    assert approval.state == State.PENDING and approval.decided_by is None
    assert not Event.objects.filter(kind=EventKind.APPROVAL_ANSWERED).exists()
    assert not AuditEvent.objects.filter(action="approval.reject").exists()


def test_without_a_listener_approvals_work_on_their_own(
    orgsim: Any, billing_invitation: Invitation, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(approval_events, "listeners", [])
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask(billing_invitation, people)
    response = people.client("bob").post(reverse("approval_approve", args=[approval.pk]), {"confirmed": "on"})
    assert response.status_code == 302 and calls_of(orgsim, "AcceptHandshake") == 1
    approval.refresh_from_db()
    assert approval.state == State.EXECUTED and not Event.objects.exists()


def test_the_calendar_holds_the_request_at_its_deadline_for_those_who_may_decide_until_decided(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask(billing_invitation, people)

    entry = _calendar(people.bob)[_uid(approval)]
    assert entry.decoded("DTSTART") == approval.answer_by.astimezone(UTC).replace(microsecond=0)
    assert f"Approve or reject by: {LABEL} {approval.resource} (Source)" == str(entry["SUMMARY"])
    assert str(entry["URL"]).endswith(reverse("approval_detail", args=[approval.pk]))
    assert "april asks a second person to approve" in str(entry["DESCRIPTION"])
    triggers = sorted(alarm.decoded("TRIGGER") for alarm in entry.walk("VALARM"))
    window = approval.answer_by - approval.requested_at
    assert triggers and all(-window < trigger < timedelta(0) for trigger in triggers)
    assert -timedelta(hours=24) in triggers
    assert _uid(approval) in _calendar(people.carol)
    # The requester cannot decide it: not in her calendar (her invitation's own deadline is).
    april = _calendar(people.april)
    assert _uid(approval) not in april and any(uid.startswith("answer-by-") for uid in april)

    people.client("carol").post(reverse("approval_reject", args=[approval.pk]), {"confirmed": "on", "reason": "No"})
    assert _uid(approval) not in _calendar(people.bob) and _uid(approval) not in _calendar(people.carol)


def test_a_lapsed_request_leaves_the_calendar(orgsim: Any, billing_invitation: Invitation, people: People) -> None:
    rule_on(billing_invitation.source.connection, "handshake.accept")
    approval = _ask(billing_invitation, people)
    assert _uid(approval) in _calendar(people.bob)
    ApprovalRequest.objects.filter(pk=approval.pk).update(answer_by=timezone.now() - timedelta(seconds=1))
    assert _uid(approval) not in _calendar(people.bob)  # past its moment, even before the beat lapses it
    assert lapse_due(refresh=False) == 1
    assert _uid(approval) not in _calendar(people.bob)


@pytest.mark.parametrize(
    ("checker_role", "deciders"),
    [
        # The rule asks an approver; accepting needs the approver role itself: approvers and admins.
        (Role.APPROVER, ["adam", "bob", "root"]),
        # The rule asks an operator, who also needs the approver role the accept needs: admins only.
        (Role.OPERATOR, ["adam", "root"]),
    ],
)
def test_only_those_who_may_decide_on_that_connection_are_asked_or_see_it(
    orgsim: Any,
    billing_invitation: Invitation,
    make_user: Any,
    checker_role: str,
    deciders: list[str],
) -> None:
    source, payer = billing_invitation.source.connection, billing_invitation.payer.connection
    rule_on(source, "handshake.accept", checker_role=checker_role)
    april = make_user("april", roles=[Role.APPROVER], connection=source)
    users = {
        "april": april,
        "bob": make_user("bob", roles=[Role.APPROVER], connection=source),
        "otto": make_user("otto", roles=[Role.OPERATOR], connection=source),
        "adam": make_user("adam", roles=[Role.ADMIN], connection=source),
        "vera": make_user("vera", roles=[Role.VIEWER], connection=source),
        "aude": make_user("aude", roles=[Role.AUDITOR], connection=source),
        # An approver and an admin of the other connection (the payer): another tenant.
        "paul": make_user("paul", roles=[Role.APPROVER], connection=payer),
        "pia": make_user("pia", roles=[Role.ADMIN], connection=payer),
        "root": make_user("root", superuser=True),
    }
    client = Client()
    client.force_login(april)
    client.post(reverse("handshake_accept", args=[billing_invitation.handshake.pk]), ACCEPT)
    approval = ApprovalRequest.objects.get()

    assert _to(EventKind.APPROVAL_ASKED) == deciders
    assert sorted(name for name, user in users.items() if _uid(approval) in _calendar(user)) == deciders
    # Nothing of this request reaches anyone else, by any kind.
    told = {row.recipient.username for row in Delivery.objects.select_related("recipient") if row.recipient}
    assert told == set(deciders)


def test_the_settings_page_offers_the_new_kinds_and_approvers_have_them_by_default(
    orgsim: Any, billing_invitation: Invitation, people: People
) -> None:
    page = people.client("bob").get(reverse("notifications:settings")).content.decode()
    for kind in (EventKind.APPROVAL_ASKED, EventKind.APPROVAL_ANSWERED, EventKind.APPROVAL_CLOSED):
        # Listed like every other kind, ticked: bob's role's defaults until he chooses.
        box = re.search(rf'<input type="checkbox" name="s\d+-events" value="{re.escape(kind.value)}"[^>]*>', page)
        assert box is not None and box.group(0).endswith(" checked>") and str(kind.label) in page
