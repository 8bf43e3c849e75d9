"""Inviting an organization: a picker of the organizations the portal knows (the management
accounts of the user's other connections, free entry still allowed), a review in plain words —
who will pay for whom, from when, what it means — and the exact request folded in a <details>."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from orgportal.models import Role
from tests.actions.conftest import SOURCE_ACCOUNT_ID, Side, calls_of
from tests.actions.test_transfer_actions import _invite_data
from transfers.services import start_choices

pytestmark = pytest.mark.django_db


def _operator_of_both(make_user: Any, grant: Any, payer: Side, source: Side) -> Client:
    user = make_user("oscar", roles=[Role.OPERATOR], connection=payer.connection)
    grant(user, source.connection, Role.VIEWER)
    client = Client()
    client.force_login(user)
    return client


def test_the_invite_form_offers_the_organizations_the_portal_knows(
    payer: Side, source: Side, make_user: Any, grant: Any
) -> None:
    client = _operator_of_both(make_user, grant, payer, source)
    html = client.get(reverse("transfer_invite", args=[payer.connection.pk])).content.decode()
    assert 'list="known-organizations"' in html
    datalist = re.search(r'<datalist id="known-organizations">(.*?)</datalist>', html, re.S)
    assert datalist is not None
    assert f'value="{SOURCE_ACCOUNT_ID}"' in datalist[1] and "Source" in datalist[1]
    # Not the inviting organization itself: it cannot pay for itself.
    assert f'value="{payer.connection.management_account_id}"' not in datalist[1]


def test_the_review_says_who_pays_for_whom_from_when_and_folds_the_exact_request(
    orgsim: Any, payer: Side, source: Side, make_user: Any, grant: Any
) -> None:
    client = _operator_of_both(make_user, grant, payer, source)
    orgsim.reset_calls()
    response = client.post(reverse("transfer_invite", args=[payer.connection.pk]), _invite_data())
    assert response.status_code == 200
    html = response.content.decode()
    start = start_choices()[0]
    assert "Payer will pay the AWS bills of Source" in html
    assert f"from {start:%B %Y}" in html
    assert "separate invoice" in html
    details = re.search(r"<details[^>]*>(.*?)</details>", html, re.S)
    assert details is not None
    assert "InviteOrganizationToTransferResponsibility" in details[1] and SOURCE_ACCOUNT_ID in details[1]
    assert calls_of(orgsim, "InviteOrganizationToTransferResponsibility") == 0


def test_an_organization_the_portal_does_not_know_is_typed_freely_and_named_by_its_id(
    payer: Side, source: Side, make_user: Any, grant: Any
) -> None:
    client = _operator_of_both(make_user, grant, payer, source)
    response = client.post(reverse("transfer_invite", args=[payer.connection.pk]), _invite_data(target="555555555555"))
    assert response.status_code == 200
    assert "the organization whose management account is 555555555555" in response.content.decode()
