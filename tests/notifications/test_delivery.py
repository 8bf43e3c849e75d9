"""Deliveries with real parts: a real SMTP server receiving the mail, a real HTTP server
receiving Slack, Teams and signed webhook posts (the signature verified), faults (500 then 200,
a dead letter, a worker killed mid-delivery, two workers at once) and the SSRF guard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection as db_connection
from django.db import transaction
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from notifications import channels
from notifications.delivery import deliver_due
from notifications.models import Channel, Delivery, Event, EventKind
from notifications.outbox import process_connection, remind, store
from notifications.services import channel_add
from orgportal.models import Role
from tests.actions.conftest import Invitation
from tests.notifications.conftest import Receiver, Smtp, sim_time, text_of

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def add_channel(connection: Any, actor: Any, kind: str, url: str) -> tuple[Channel, str]:
    return channel_add(actor=actor, connection=connection, kind=kind, name=f"team {kind}", url=url)


def test_an_invitation_email_reaches_a_real_smtp_server_with_a_link_back_and_a_one_click_unsubscribe(
    smtp: Smtp, invitation: Invitation, make_user: Any
) -> None:
    connection = invitation.source.connection
    make_user("april", roles=[Role.APPROVER], connection=connection)
    process_connection(connection)
    drained = deliver_due()
    assert drained.sent == 1

    [message] = smtp.wait_for(1)
    assert smtp.envelopes[0].rcpt_tos == ["april@example.com"]
    assert "New invitation: Billing transfer" in message["Subject"]
    body = text_of(message)
    assert invitation.handshake.handshake_id in body
    assert f"/handshakes/{invitation.handshake.pk}/" in body
    unsubscribe = "".join(str(message["List-Unsubscribe"]).split()).strip("<>")  # unfolded
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in body
    delivery = Delivery.objects.get()
    assert delivery.state == "sent" and delivery.attempts == 1 and message["X-Orgportal-Delivery"] == delivery.key

    # One click (RFC 8058: a POST without our cookie) stops the emails of that connection.
    response = Client(enforce_csrf_checks=True).post(urlsplit(unsubscribe).path)
    assert response.status_code == 200 and "Unsubscribed" in response.content.decode()
    another = Event(
        key="invitation.received:another",
        connection=connection,
        kind=EventKind.INVITATION_RECEIVED,
        title="another invitation",
    )
    with transaction.atomic():
        assert store(connection, [another]).deliveries == 0

    # The delivery is in the audit trail.
    audited = AuditEvent.objects.filter(action="notification.delivery")
    assert audited.count() == 1 and audited.get().params["medium"] == "email"
    assert AuditEvent.objects.filter(action="notification.unsubscribe").count() == 1


def test_slack_teams_and_a_signed_webhook_each_get_their_own_format_with_a_link_back(
    receiver: Receiver, invitation: Invitation, make_user: Any
) -> None:
    connection = invitation.source.connection
    admin = make_user("alice", roles=[Role.ADMIN], connection=connection)
    admin.email = ""
    admin.save()
    add_channel(connection, admin, "slack", receiver.url("/slack"))
    add_channel(connection, admin, "teams", receiver.url("/teams"))
    _, secret = add_channel(connection, admin, "webhook", receiver.url("/hook"))
    assert secret

    process_connection(connection)
    assert deliver_due().sent == 3
    by_path = {r.path: r for r in receiver.acknowledged()}
    assert set(by_path) == {"/slack", "/teams", "/hook"}
    link = f"/handshakes/{invitation.handshake.pk}/"

    slack = by_path["/slack"].json
    assert "New invitation" in slack["text"]
    assert slack["blocks"][2]["elements"][0]["url"].endswith(link)

    teams = by_path["/teams"].json
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"].endswith(link)

    hook = by_path["/hook"]
    timestamp, signature = hook.headers["x-orgportal-timestamp"], hook.headers["x-orgportal-signature"]
    assert channels.verify(secret, timestamp, hook.body, signature)
    assert not channels.verify("another secret", timestamp, hook.body, signature)
    assert not channels.verify(secret, timestamp, hook.body + b" ", signature)
    # A replay later than the tolerance is refused by the documented check.
    assert not channels.verify(secret, str(int(timestamp) - 600), hook.body, signature)
    # The README's receiver example accepts it once and refuses its replay.
    readme = (ROOT / "README.md").read_text()
    example = next(block for block in readme.split("```python")[1:] if "def verify(" in block).split("```")[0]
    namespace: dict[str, Any] = {}
    exec(compile(example, "README.md", "exec"), namespace)
    headers = {
        name: hook.headers[name.lower()]
        for name in ("X-Orgportal-Timestamp", "X-Orgportal-Signature", "X-Orgportal-Delivery")
    }
    seen: set[str] = set()
    assert namespace["verify"](secret, headers, hook.body, seen)
    assert not namespace["verify"](secret, headers, hook.body, seen)
    assert not namespace["verify"]("wrong", headers, hook.body, set())
    payload = hook.json
    assert payload["kind"] == "invitation.received" and payload["url"].endswith(link)
    assert payload["delivery"] == hook.headers["x-orgportal-delivery"]


def test_a_receiver_answering_500_then_200_gets_one_delivery_and_the_retry_is_counted(
    receiver: Receiver, invitation: Invitation, make_user: Any
) -> None:
    connection = invitation.source.connection
    admin = make_user("alice", roles=[Role.ADMIN], connection=connection)
    admin.email = ""
    admin.save()
    add_channel(connection, admin, "webhook", receiver.url("/hook"))
    process_connection(connection)
    receiver.script(500, 200)

    first = deliver_due()
    assert (first.sent, first.failed) == (0, 1)
    delivery = Delivery.objects.get()
    assert delivery.state == "pending" and delivery.attempts == 1 and delivery.last_status == 500
    assert delivery.next_attempt_at > timezone.now()  # backed off
    assert deliver_due().attempted == 0  # not due yet

    second = deliver_due(now=delivery.next_attempt_at + timedelta(seconds=1))
    assert second.sent == 1
    delivery.refresh_from_db()
    assert delivery.state == "sent" and delivery.attempts == 2 and delivery.last_status == 200
    assert len(receiver.requests) == 2 and len(receiver.acknowledged()) == 1
    assert [e.outcome for e in AuditEvent.objects.filter(action="notification.delivery").order_by("id")] == [
        "error",
        "ok",
    ]


def test_after_the_last_attempt_a_delivery_is_dead_until_an_admin_retries_it(
    settings: Any, receiver: Receiver, invitation: Invitation, make_user: Any, client: Client
) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 2
    connection = invitation.source.connection
    admin = make_user("alice", roles=[Role.ADMIN], connection=connection)
    admin.email = ""
    admin.save()
    add_channel(connection, admin, "slack", receiver.url("/slack"))
    process_connection(connection)
    receiver.script(503, 503, 200)
    later = timezone.now() + timedelta(days=1)
    deliver_due()
    deliver_due(now=later)
    delivery = Delivery.objects.get()
    assert delivery.state == "dead" and delivery.attempts == 2
    assert deliver_due(now=later + timedelta(days=1)).attempted == 0

    client.force_login(admin)
    page = client.get("/notifications/")
    assert "Gave up" in page.content.decode() and "Retry now" in page.content.decode()
    response = client.post(f"/notifications/deliveries/{delivery.pk}/retry/")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == "sent" and delivery.attempts == 3
    assert AuditEvent.objects.filter(action="notification.retry", actor_id=admin.pk).count() == 1


def test_the_backoff_doubles_with_jitter(settings: Any) -> None:
    from notifications.delivery import backoff

    settings.NOTIFY_RETRY_BASE_SECONDS = 10
    settings.NOTIFY_RETRY_MAX_SECONDS = 100
    for attempts, nominal in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        waits = {backoff(attempts).total_seconds() for _ in range(20)}
        assert all(nominal * 0.5 <= w <= nominal * 1.5 for w in waits)
        assert len(waits) > 1  # jittered


def _database_url() -> str:
    cfg = db_connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    user = cfg.get("USER") or "postgres"
    return f"postgres://{user}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


WORKER = "import django; django.setup(); from notifications.delivery import deliver_due; deliver_due()"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_is_retried_and_the_reminder_is_not_duplicated(
    orgsim: Any, settings: Any, receiver: Receiver, invitation: Invitation, make_user: Any
) -> None:
    connection = invitation.source.connection
    admin = make_user("alice", roles=[Role.ADMIN], connection=connection)
    admin.email = ""
    admin.save()
    add_channel(connection, admin, "webhook", receiver.url("/hook"))
    # Straight to the 24-hour reminder.
    from handshakes.selectors import deadline_of

    deadline = deadline_of(invitation.handshake)
    assert deadline is not None
    orgsim.advance((deadline - sim_time(orgsim)).total_seconds() - 23 * 3600)
    invitation.source.sync()
    assert remind(connection, now=sim_time(orgsim)).events == 1
    reminder = Delivery.objects.get(event__kind=EventKind.INVITATION_DEADLINE)
    Delivery.objects.exclude(pk=reminder.pk).delete()

    receiver.script("hang", 200)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": django_settings.SECRET_KEY,
        "ORGPORTAL_TESTING": "false",
        "DEBUG": "true",
        "ORGPORTAL_VAR_DIR": str(django_settings.VAR_DIR),
        "NOTIFY_ALLOWED_WEBHOOK_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "orgportal.settings",
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, start_new_session=True)
    try:
        assert receiver.arrived.wait(60), "the worker never posted"
        reminder.refresh_from_db()
        assert reminder.state == "sending" and reminder.attempts == 1
        os.killpg(worker.pid, signal.SIGKILL)  # killed mid-delivery, before any answer
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert receiver.acknowledged() == []

    # Within the claim timeout nobody else takes the row; past it, the sweep hands it back.
    assert deliver_due().attempted == 0
    settings.NOTIFY_CLAIM_TIMEOUT_SECONDS = 0
    time.sleep(0.01)
    assert deliver_due().sent == 1
    reminder.refresh_from_db()
    assert reminder.state == "sent" and reminder.attempts == 2
    # One acknowledged message; both tries carried the same delivery id for the receiver to match.
    assert len(receiver.acknowledged()) == 1
    assert len({r.headers["x-orgportal-delivery"] for r in receiver.requests}) == 1
    # And the clock running again gives no second reminder for the same threshold.
    assert remind(connection, now=sim_time(orgsim)).events == 0
    assert Event.objects.filter(kind=EventKind.INVITATION_DEADLINE).count() == 1
    assert Delivery.objects.filter(event__kind=EventKind.INVITATION_DEADLINE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_at_once_never_deliver_the_same_row(
    receiver: Receiver, connection: Any, make_user: Any
) -> None:
    admin = make_user("alice", roles=[Role.ADMIN], connection=connection)
    channel, _ = add_channel(connection, admin, "webhook", receiver.url("/hook"))
    for n in range(120):
        event = Event.objects.create(key=f"test:{n}", connection=connection, kind=EventKind.TEST, title=f"n{n}")
        Delivery.objects.create(
            key=f"{event.pk}:channel:{channel.pk}",
            event=event,
            connection=connection,
            channel=channel,
            medium="webhook",
        )
    errors: list[BaseException] = []

    def work() -> None:
        try:
            deliver_due()
        except BaseException as exc:
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = [r.headers["x-orgportal-delivery"] for r in receiver.requests]
    assert len(ids) == 120 and len(set(ids)) == 120
    assert Delivery.objects.filter(state="sent", attempts=1).count() == 120


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",  # plain http, loopback
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata address
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://[::1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://0.0.0.0/hook",
        "https://user:pw@hooks.example.com/x",
        "ftp://hooks.example.com/x",
    ],
)
def test_the_ssrf_guard_refuses_private_loopback_and_metadata_addresses(url: str) -> None:
    with pytest.raises(channels.UnsafeDestination):
        channels.check_url(url)


def test_an_allowed_host_passes_the_guard_and_a_refused_url_is_a_clear_422(
    settings: Any, personas: Any, client: Client
) -> None:
    settings.NOTIFY_ALLOWED_WEBHOOK_HOSTS = []
    personas.login(client, "admin")
    response = client.post(
        f"/notifications/settings/{personas.connection.pk}/channels/add/",
        {
            f"ch{personas.connection.pk}-kind": "slack",
            f"ch{personas.connection.pk}-name": "ops",
            f"ch{personas.connection.pk}-url": "https://169.254.169.254/latest/meta-data/",
        },
    )
    assert response.status_code == 422
    assert "link-local" in response.content.decode()
    assert not Channel.objects.exists()
    settings.NOTIFY_ALLOWED_WEBHOOK_HOSTS = ["127.0.0.1"]
    assert channels.check_url("http://127.0.0.1:9/hook")[1] == "127.0.0.1"


def test_a_webhook_url_is_stored_encrypted_and_never_shown_again(settings: Any, personas: Any, client: Client) -> None:
    settings.NOTIFY_ALLOWED_WEBHOOK_HOSTS = ["127.0.0.1"]
    url = "http://127.0.0.1:9/services/T000/B000/very-secret-token"
    personas.login(client, "admin")
    pk = personas.connection.pk
    response = client.post(
        f"/notifications/settings/{pk}/channels/add/",
        {f"ch{pk}-kind": "webhook", f"ch{pk}-name": "siem", f"ch{pk}-url": url},
    )
    assert response.status_code == 200
    channel = Channel.objects.get()
    assert "very-secret-token" not in channel.url_encrypted and channel.url == url
    assert channel.secret and channel.secret in response.content.decode()  # the signing secret, once
    page = client.get("/notifications/settings/").content.decode()
    assert "very-secret-token" not in page and channel.secret not in page and "127.0.0.1" in page
    audit = AuditEvent.objects.get(action="notification.channel_add")
    assert "very-secret-token" not in str(audit.params)
