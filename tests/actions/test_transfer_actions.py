"""Billing transfers through the portal against orgsim: an admin invites an organization (review
of the exact call, then confirm; the same form twice reaches AWS once), the other side's approver
accepts, the admin renames and terminates (typing the name). Bad input is a 422 and no AWS call."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from handshakes.models import Direction, Handshake
from orgportal.models import Role
from tests.actions.conftest import SOURCE_ACCOUNT_ID, Side, calls_of
from transfers.forms import _choice_value
from transfers.models import ResponsibilityTransfer
from transfers.services import end_choices, start_choices

pytestmark = pytest.mark.django_db


def _login(make_user: Any, name: str, role: str, side: Side) -> Client:
    client = Client()
    client.force_login(make_user(name, roles=[role], connection=side.connection))
    return client


def _invite_data(**overrides: str) -> dict[str, str]:
    data = {
        "target": SOURCE_ACCOUNT_ID,
        "source_name": "Source org billing",
        "start": _choice_value(start_choices()[0]),
        "notes": "We pay from January",
        "tags": "team=finance",
        "submission": "5f0c7c1e-0000-4000-8000-000000000001",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target", "not-an-account"),
        ("target", "12345"),
        ("source_name", "Zürich billing"),  # SourceName is printable ASCII only (the model's pattern)
        ("source_name", "x" * 129),
        ("start", "2020-01-01T00:00:00Z"),
        ("tags", "no equals sign"),
        ("tags", "bad!key=x"),
        ("notes", "n" * 1025),
    ],
)
def test_bad_input_is_a_422_with_a_message_and_no_aws_call(
    orgsim: Any, payer: Side, source: Side, make_user: Any, field: str, value: str
) -> None:
    orgsim.reset_calls()
    client = _login(make_user, "alice", Role.ADMIN, payer)
    url = reverse("transfer_invite", args=[payer.connection.pk])
    for confirmed in ({}, {"confirmed": "on"}):
        response = client.post(url, {**_invite_data(**{field: value}), **confirmed})
        assert response.status_code == 422
        assert 'class="errorlist' in response.content.decode()
    assert calls_of(orgsim, "InviteOrganizationToTransferResponsibility") == 0
    assert not AuditEvent.objects.filter(action="transfer.invite").exists()


def test_admin_invites_the_other_side_accepts_the_admin_renames_and_terminates(
    orgsim: Any, payer: Side, source: Side, make_user: Any
) -> None:
    admin = _login(make_user, "alice", Role.ADMIN, payer)
    url = reverse("transfer_invite", args=[payer.connection.pk])
    orgsim.reset_calls()

    review = admin.post(url, _invite_data())
    assert review.status_code == 200
    page = review.content.decode()
    assert (
        "InviteOrganizationToTransferResponsibility" in page
        and "&quot;SourceName&quot;: &quot;Source org billing&quot;" in page
    )
    assert calls_of(orgsim, "InviteOrganizationToTransferResponsibility") == 0

    done = admin.post(url, {**_invite_data(), "confirmed": "on"})
    assert done.status_code == 302
    sent = Handshake.objects.get(
        connection=payer.connection, direction=Direction.SENT, action="TRANSFER_RESPONSIBILITY"
    )
    assert sent.state in ("OPEN", "REQUESTED") and sent.counterparty
    transfer = ResponsibilityTransfer.objects.get(connection=payer.connection)
    assert transfer.status == "REQUESTED" and transfer.direction == "inbound"

    # The same form posted again (a double click, a browser retry) reaches AWS once.
    again = admin.post(url, {**_invite_data(), "confirmed": "on"})
    assert again.status_code == 409 and "already sent" in again.content.decode()
    assert calls_of(orgsim, "InviteOrganizationToTransferResponsibility") == 1

    # The other side's approver accepts.
    source.sync()
    received = Handshake.objects.get(
        connection=source.connection, direction=Direction.RECEIVED, action="TRANSFER_RESPONSIBILITY"
    )
    approver = _login(make_user, "bob", Role.APPROVER, source)
    accepted = approver.post(reverse("handshake_accept", args=[received.pk]), {"confirmed": "on", "understood": "on"})
    assert accepted.status_code == 302
    payer.sync()
    transfer.refresh_from_db()
    assert transfer.status == "ACCEPTED"

    # Rename.
    renamed = admin.post(
        reverse("transfer_rename", args=[transfer.pk]), {"name": "Source org (2027)", "confirmed": "on"}
    )
    assert renamed.status_code == 302
    transfer.refresh_from_db()
    assert transfer.name == "Source org (2027)"

    # Terminate: the typed name must match, else nothing is sent.
    terminate = reverse("transfer_terminate", args=[transfer.pk])
    end = _choice_value(end_choices()[1])
    wrong = admin.post(terminate, {"end": end, "confirm_name": "something else", "confirmed": "on"})
    assert wrong.status_code == 422
    assert calls_of(orgsim, "TerminateResponsibilityTransfer") == 0
    review = admin.post(terminate, {"end": end})
    assert review.status_code == 200 and "TerminateResponsibilityTransfer" in review.content.decode()
    assert re.search(r"23:59:59", review.content.decode())
    ended = admin.post(terminate, {"end": end, "confirm_name": "Source org (2027)", "confirmed": "on"})
    assert ended.status_code == 302, ended.content.decode()[:3000]
    transfer.refresh_from_db()
    assert transfer.status == "WITHDRAWN"
    assert transfer.end_at == end_choices()[1]
    assert calls_of(orgsim, "TerminateResponsibilityTransfer") == 1
    outcomes = list(
        AuditEvent.objects.filter(action="transfer.terminate").order_by("id").values_list("outcome", flat=True)
    )
    assert outcomes == ["intent", "ok"]


def test_operator_may_invite_an_account_to_the_organization(orgsim: Any, payer: Side, make_user: Any) -> None:
    operator = _login(make_user, "oscar", Role.OPERATOR, payer)
    url = reverse("organization_invite_account", args=[payer.connection.pk])
    response = operator.post(url, {"target": "444444444444", "notes": "Welcome", "confirmed": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    handshake = Handshake.objects.get(connection=payer.connection, action="INVITE")
    assert handshake.direction == Direction.SENT and handshake.counterparty == "444444444444"
    assert calls_of(orgsim, "InviteAccountToOrganization") == 1
