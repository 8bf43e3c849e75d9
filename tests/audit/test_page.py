"""The audit page: auditors only, their connections' events, filters, keyset pages, the htmx partial."""

from __future__ import annotations

import pytest

from audit.events import record, record_many
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_connection(make_connection):
    return make_connection(name="Globex payer")


@pytest.fixture
def events(personas, other_connection):
    record(action="handshake_accept", actor=personas.approver, connection=personas.connection, resource="h-ours")
    record(action="handshake_accept", actor_label="system", connection=other_connection, resource="h-theirs")
    record(action="login", actor=personas.viewer)


@pytest.mark.parametrize("name", ["admin", "operator", "approver", "viewer", "outsider"])
def test_only_auditors_and_superusers_open_the_audit_page(client, personas, name):
    personas.login(client, name)
    assert client.get("/audit/").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/audit/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_auditor_sees_their_connections_events_and_those_of_no_connection(client, personas, events):
    personas.login(client, "auditor")
    response = client.get("/audit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "h-ours" in html
    assert "h-theirs" not in html
    assert "login" in html


def test_superuser_sees_every_connections_events(client, personas, events):
    personas.login(client, "superuser")
    html = client.get("/audit/").content.decode()
    assert "h-ours" in html and "h-theirs" in html


def test_another_connections_trail_is_a_404_for_an_auditor(client, personas, other_connection, events):
    personas.login(client, "auditor")
    assert client.get("/audit/", {"connection": other_connection.pk}).status_code == 404
    assert client.get("/audit/export.csv", {"connection": other_connection.pk}).status_code == 404
    assert client.get("/audit/", {"connection": personas.connection.pk}).status_code == 200


def test_filters_narrow_the_events(client, personas, events):
    record(
        action="handshake_decline",
        actor=personas.approver,
        connection=personas.connection,
        resource="h-no",
        outcome="error",
    )
    personas.login(client, "auditor")

    def resources(**query):
        response = client.get("/audit/", query)
        assert response.status_code == 200
        return [event.resource for event in response.context["page"].events]

    assert resources(outcome="error") == ["h-no"]
    assert resources(action="handshake_accept") == ["h-ours"]
    assert resources(actor="april") == ["h-no", "h-ours"]
    assert resources(connection=personas.connection.pk) == ["h-no", "h-ours"]
    assert resources(since="2000-01-01T00:00", until="2000-01-02T00:00") == []
    assert len(resources(since="2000-01-01T00:00")) == 3


def test_keyset_pages_walk_older_and_back_newer(client, personas):
    record_many(
        [
            {"action": "observed_change", "actor_label": "AWS", "connection": personas.connection, "resource": f"r{n}"}
            for n in range(120)
        ]
    )
    personas.login(client, "auditor")
    ids = list(AuditEvent.objects.order_by("-id").values_list("id", flat=True))

    first = client.get("/audit/").context["page"]
    assert [e.pk for e in first.events] == ids[:50] and first.newer is None
    second = client.get("/audit/", {"before": first.older}).context["page"]
    assert [e.pk for e in second.events] == ids[50:100]
    third = client.get("/audit/", {"before": second.older}).context["page"]
    assert [e.pk for e in third.events] == ids[100:] and third.older is None
    back = client.get("/audit/", {"after": second.newer}).context["page"]
    assert [e.pk for e in back.events] == ids[:50] and back.newer is None


def test_htmx_request_gets_only_the_results_partial(client, personas, events):
    personas.login(client, "auditor")
    response = client.get("/audit/", {"outcome": "ok"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="audit-results">')
    assert "<html" not in html
    assert "h-ours" in html


def test_what_aws_or_users_wrote_is_escaped(client, personas):
    record(action="rename", actor=personas.admin, connection=personas.connection, resource="<script>alert(1)</script>")
    personas.login(client, "auditor")
    html = client.get("/audit/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
