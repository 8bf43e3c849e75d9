"""One "answer by" deadline everywhere: the accept page shows the earlier of the invitation's
expiry and 24 h before the transfer starts (`Handshake.answer_by()`), once, graded by the one
urgency rule (`orgportal.deadlines`), and says which it is."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orgportal.models import AwsConnection
from tests.conftest import Personas

from .test_lists import body

pytestmark = pytest.mark.django_db


def _accept_page(client: Client, personas: Personas, handshake_pk: int) -> str:
    personas.login(client, "approver")
    response = client.get(reverse("handshake_accept", args=[handshake_pk]))
    assert response.status_code == 200
    return body(response)


def test_the_accept_page_shows_the_expiry_when_it_comes_first_once_and_graded(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    now = timezone.now()
    invitation = make_handshake(
        synced,
        action="TRANSFER_RESPONSIBILITY",
        expires_at=now + timedelta(days=1, hours=20),
        transfer_start_at=now + timedelta(weeks=5),
    )
    html = _accept_page(client, personas, invitation.pk)
    assert len(re.findall(r"data-countdown", html)) == 1
    assert "<dt>Expires</dt>" not in html
    assert 'class="countdown warning"' in html  # under 48 h: a warning, not routine
    assert "when the invitation expires" in html
    assert "under 48 hours" in html  # the rule is said on the page


def test_the_accept_page_shows_24_hours_before_the_start_when_that_comes_first(
    client: Client, personas: Personas, synced: AwsConnection, make_handshake: Callable
) -> None:
    now = timezone.now()
    start = (now + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    invitation = make_handshake(
        synced, action="TRANSFER_RESPONSIBILITY", expires_at=now + timedelta(days=14), transfer_start_at=start
    )
    html = _accept_page(client, personas, invitation.pk)
    assert len(re.findall(r"data-countdown", html)) == 1
    assert (start - timedelta(hours=24)).strftime("%Y-%m-%d %H:%M") in html
    assert "24 hours before the transfer starts" in html
    assert 'class="countdown notice"' in html
