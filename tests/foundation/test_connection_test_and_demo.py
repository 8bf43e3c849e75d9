""" "Test connection" against orgsim, and the demo bootstrap command."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from audit.models import AuditEvent
from orgportal.models import AwsConnection, Grant, SyncRun
from tests.conftest import SimOrg


@pytest.fixture
def connection(sim_connection: AwsConnection) -> AwsConnection:
    """The personas hold their grants on the orgsim-backed connection in this module."""
    return sim_connection


def test_test_connection_shows_who_the_credentials_are_and_the_organization(
    personas: Any, client: Client, sim_org: SimOrg
) -> None:
    personas.login(client, "admin")
    response = client.post(reverse("connection_test", args=[personas.connection.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Read credentials: working" in html
    assert sim_org.organization_id in html
    assert "the management account" in html
    personas.connection.refresh_from_db()
    assert personas.connection.organization_id == sim_org.organization_id
    event = AuditEvent.objects.get(action="connection.tested")
    assert event.outcome == "ok" and event.actor_label == "alice"


def test_test_connection_says_in_plain_words_what_is_wrong(
    personas: Any, client: Client, orgsim: Any, make_connection: Any
) -> None:
    outside = make_connection(name="Standalone", account_id="555555555555", endpoint_url=orgsim.endpoint)
    personas.login(client, "superuser")
    html = client.post(reverse("connection_test", args=[outside.pk])).content.decode()
    assert "not working" in html
    assert "not a member of an organization" in html
    assert AuditEvent.objects.get(action="connection.tested").outcome == "error"


def test_member_account_credentials_are_recognised(
    personas: Any, client: Client, sim_org: SimOrg, make_connection: Any
) -> None:
    member = sim_org.add_member()
    as_member = make_connection(name="Member creds", account_id=member, endpoint_url=sim_org.sim.endpoint)
    personas.login(client, "superuser")
    html = client.post(reverse("connection_test", args=[as_member.pk])).content.decode()
    assert "member account, not the management account" in html


def test_demo_setup_creates_logins_connections_schedule_and_syncs_idempotently(
    db: None, sim_org: SimOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
    out = StringIO()
    call_command("demo_setup", "--endpoint", sim_org.sim.endpoint, stdout=out)
    assert "demo / demo-password-for-tests" in out.getvalue()
    connection = AwsConnection.objects.get(read_credentials__access_key_id=sim_org.management_account_id)
    assert connection.endpoint_url == sim_org.sim.endpoint
    assert SyncRun.objects.get(connection=connection).status == "ok"
    demo = get_user_model().objects.get(username="demo")
    assert demo.is_superuser and demo.check_password("demo-password-for-tests")
    assert demo.password != "demo-password-for-tests"  # stored hashed
    assert Grant.objects.filter(user__username="approver", connection=connection, role="approver").exists()
    assert PeriodicTask.objects.filter(task="orgportal.tasks.sync_all").count() == 1

    call_command("demo_setup", "--endpoint", sim_org.sim.endpoint, stdout=StringIO())
    assert AwsConnection.objects.count() == 1
    assert get_user_model().objects.filter(username="demo").count() == 1
    assert Grant.objects.filter(connection=connection).count() == 4
    assert SyncRun.objects.filter(connection=connection).count() == 2
