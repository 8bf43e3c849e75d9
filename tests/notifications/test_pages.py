"""The notification pages: what was sent (and the admins' retry), subscriptions, channels and
their test message, the calendar feed (parsed by icalendar, with the demo's deadlines), the
signed unsubscribe link; each permission-checked, CSRF-protected and audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from audit.models import AuditEvent
from handshakes.models import Handshake
from handshakes.selectors import deadline_of
from notifications.delivery import send_digests, unsubscribe_url
from notifications.models import Channel, Delivery, Event, EventKind, Subscription
from notifications.outbox import process_connection
from orgportal.models import AwsConnection, Role
from orgportal.sync import sync_connection
from tests.notifications.conftest import Receiver
from transfers.models import ResponsibilityTransfer

pytestmark = pytest.mark.django_db

FABRIKAM = "433344455566"
NORTHWIND = "210987654321"


def _delivery(connection: AwsConnection, *, recipient: Any = None, state: str = "dead") -> Delivery:
    event = Event.objects.create(
        key=f"test:{connection.pk}:{Event.objects.count()}", connection=connection, kind=EventKind.TEST, title="t"
    )
    return Delivery.objects.create(
        key=f"{event.pk}:email:{recipient.pk if recipient else 0}",
        event=event,
        connection=connection,
        recipient=recipient,
        medium="email",
        state=state,
        attempts=8,
    )


def test_the_page_lists_my_deliveries_and_admins_see_and_retry_those_of_their_connection(
    personas: Any, make_connection: Any, client: Client
) -> None:
    mine = _delivery(personas.connection, recipient=personas.viewer)
    theirs = _delivery(personas.connection, recipient=personas.approver)
    elsewhere = _delivery(make_connection(name="Elsewhere"), recipient=None)

    personas.login(client, "viewer")
    page = client.get(reverse("notifications:list")).content.decode()
    assert f"delivery-{mine.pk}" in page and f"delivery-{theirs.pk}" not in page and "Retry now" not in page
    assert client.post(reverse("notifications:retry", args=[mine.pk])).status_code == 403
    assert client.post(reverse("notifications:retry", args=[elsewhere.pk])).status_code == 404

    personas.login(client, "admin")
    page = client.get(reverse("notifications:list")).content.decode()
    assert f"delivery-{mine.pk}" in page and f"delivery-{theirs.pk}" in page and f"delivery-{elsewhere.pk}" not in page
    assert "Retry now" in page
    assert client.get(reverse("notifications:retry", args=[mine.pk])).status_code == 405
    personas.login(client, "outsider")
    assert client.post(reverse("notifications:retry", args=[mine.pk])).status_code == 404
    assert Client().get(reverse("notifications:list")).status_code == 302  # sign in first


def test_a_user_saves_a_subscription_audited_and_csrf_checked(personas: Any) -> None:
    pk = personas.connection.pk
    url = reverse("notifications:subscribe", args=[pk])
    data = {f"s{pk}-events": [EventKind.INVITATION_RECEIVED, EventKind.TRANSFER_ENDING], f"s{pk}-channels": ["email"]}
    strict = personas.login(Client(enforce_csrf_checks=True), "auditor")
    assert strict.post(url, data).status_code == 403  # no CSRF token
    client = personas.login(Client(), "auditor")
    page = client.get(reverse("notifications:settings")).content.decode()
    assert "role&#x27;s defaults" in page or "role's defaults" in page
    assert client.post(url, data).status_code == 302
    saved = Subscription.objects.get(user=personas.auditor, connection=personas.connection)
    assert saved.events == sorted([EventKind.INVITATION_RECEIVED, EventKind.TRANSFER_ENDING])
    assert saved.channels == ["email"] and not saved.digest
    assert AuditEvent.objects.filter(action="notification.subscription", actor_id=personas.auditor.pk).count() == 1
    # A channel of another connection, or an unknown event, is refused with the form again.
    bad = client.post(url, {f"s{pk}-events": ["nope"], f"s{pk}-channels": ["channel:999"]})
    assert bad.status_code == 422
    personas.login(client, "outsider")
    assert client.post(url, data).status_code == 404


def test_only_admins_manage_channels_and_reminders(personas: Any, client: Client) -> None:
    pk = personas.connection.pk
    for name in ("viewer", "approver", "operator", "auditor"):
        personas.login(client, name)
        assert client.post(reverse("notifications:channel_add", args=[pk]), {}).status_code == 403
        assert client.post(reverse("notifications:connection_settings", args=[pk]), {}).status_code == 403
    personas.login(client, "admin")
    response = client.post(
        reverse("notifications:connection_settings", args=[pk]),
        {f"r{pk}-reminders": "72, 12", f"r{pk}-sync_failing_after": "45"},
    )
    assert response.status_code == 302
    config = personas.connection.notification_settings
    assert config.reminder_seconds == [72 * 3600, 12 * 3600] and config.sync_failing_after_seconds == 45 * 60
    bad = client.post(
        reverse("notifications:connection_settings", args=[pk]),
        {f"r{pk}-reminders": "soon", f"r{pk}-sync_failing_after": "45"},
    )
    assert bad.status_code == 422 and "not a whole number" in bad.content.decode()


def test_send_a_test_message_to_a_channel_and_to_my_email(
    settings: Any, receiver: Receiver, personas: Any, client: Client
) -> None:
    pk = personas.connection.pk
    personas.login(client, "admin")
    client.post(
        reverse("notifications:channel_add", args=[pk]),
        {f"ch{pk}-kind": "teams", f"ch{pk}-name": "finance", f"ch{pk}-url": receiver.url("/teams")},
    )
    channel = Channel.objects.get()
    response = client.post(reverse("notifications:channel_test", args=[channel.pk]), follow=True)
    assert "Test message sent" in response.content.decode()
    [post] = receiver.acknowledged("/teams")
    assert "Test message" in post.json["attachments"][0]["content"]["body"][0]["text"]

    receiver.script(500)
    response = client.post(reverse("notifications:channel_test", args=[channel.pk]), follow=True)
    assert "did not get through" in response.content.decode() and "HTTP 500" in response.content.decode()

    personas.login(client, "viewer")
    assert client.post(reverse("notifications:channel_test", args=[channel.pk])).status_code == 403
    response = client.post(reverse("notifications:email_test", args=[pk]), follow=True)
    assert "Test message sent" in response.content.decode()
    assert mail.outbox[-1].to == ["victor@example.com"]
    assert AuditEvent.objects.filter(action="notification.test").count() == 3


def test_the_calendar_feed_holds_the_demos_deadlines_with_alarms_and_only_what_the_user_may_see(
    orgsim_demo: Any, make_connection: Any, make_user: Any
) -> None:
    fabrikam = make_connection(name="Fabrikam", account_id=FABRIKAM, endpoint_url=orgsim_demo.endpoint)
    northwind = make_connection(name="Northwind", account_id=NORTHWIND, endpoint_url=orgsim_demo.endpoint)
    for connection in (fabrikam, northwind):
        assert sync_connection(connection).status == "ok"
    user = make_user("fiona", roles=[Role.VIEWER], connection=fabrikam)
    client = Client()
    client.force_login(user)
    page = client.post(reverse("notifications:calendar_rotate")).content.decode()
    url = page.split('id="calendar-url" aria-label="Calendar URL"')[0].rsplit('value="', 1)[1].split('"')[0]
    path = url.removeprefix("http://127.0.0.1:8000")

    response = Client().get(path)  # no session: the token is the key
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    invitation = Handshake.objects.get(connection=fabrikam, handshake_id="h-2pq2as4gasxv")
    deadline = deadline_of(invitation)
    entry = events[f"answer-by-{fabrikam.pk}-h-2pq2as4gasxv@orgportal"]
    assert deadline is not None and entry.decoded("DTSTART") == deadline.replace(microsecond=0)  # whole seconds
    assert sorted(a.decoded("TRIGGER") for a in entry.walk("VALARM")) == [
        -timedelta(days=7),
        -timedelta(hours=48),
        -timedelta(hours=24),
    ]
    assert "Billing transfer" in str(entry["SUMMARY"])
    assert str(entry["URL"]).endswith(reverse("handshake_detail", args=[invitation.pk]))
    # Northwind's invitations and transfers are not Fiona's to see.
    assert not any(str(northwind.pk) in uid.split("-")[2] for uid in events if uid.startswith("answer-by-"))
    assert all(f"-{northwind.pk}-" not in uid for uid in events)
    # Transfers she may see appear with their start or end.
    fabrikam_transfers = ResponsibilityTransfer.objects.filter(connection=fabrikam)
    for transfer in fabrikam_transfers.exclude(start_at=None).filter(status__in=["REQUESTED", "ACCEPTED"]):
        assert f"transfer-start-{fabrikam.pk}-{transfer.transfer_id}@orgportal" in events

    # A wrong token is a 404; rotating makes the old URL a 404 too.
    assert Client().get(path.replace(".ics", "x.ics")).status_code == 404
    client.post(reverse("notifications:calendar_rotate"))
    assert Client().get(path).status_code == 404
    assert AuditEvent.objects.filter(action="notification.calendar_rotate").count() == 2


def test_a_tampered_unsubscribe_link_is_refused_and_a_get_only_asks(personas: Any) -> None:
    url = unsubscribe_url(personas.approver.pk, personas.connection.pk).removeprefix("http://127.0.0.1:8000")
    assert "Stop these emails?" in Client().get(url).content.decode()
    assert not Subscription.objects.exists()  # a link scanner's GET changes nothing
    assert Client().post(url.replace("/unsubscribe/", "/unsubscribe/x")).status_code == 400
    assert Client().post(url).status_code == 200
    saved = Subscription.objects.get(user=personas.approver)
    assert "email" not in saved.channels and EventKind.INVITATION_RECEIVED in saved.events


def test_the_daily_digest_sends_one_email_with_every_held_event(personas: Any) -> None:
    Subscription.objects.create(
        user=personas.viewer,
        connection=personas.connection,
        events=[EventKind.TEST, EventKind.INVITATION_RECEIVED],
        channels=["email"],
        digest=True,
    )
    for n in range(3):
        event = Event.objects.create(
            key=f"k{n}", connection=personas.connection, kind=EventKind.INVITATION_RECEIVED, title=f"Invitation {n}"
        )
        Delivery.objects.create(
            key=f"{event.pk}:email:{personas.viewer.pk}",
            event=event,
            connection=personas.connection,
            recipient=personas.viewer,
            medium="email",
            state="digest",
        )
    assert send_digests() == 1
    assert len(mail.outbox) == 1 and "3 notifications" in mail.outbox[0].subject
    assert all(f"Invitation {n}" in mail.outbox[0].body for n in range(3))
    assert Delivery.objects.filter(state="sent").count() == 3
    assert send_digests() == 0
    assert process_connection(personas.connection).events == 0


def test_removing_a_channel_keeps_what_was_sent_and_gives_up_what_waits(
    receiver: Receiver, personas: Any, client: Client
) -> None:
    pk = personas.connection.pk
    personas.login(client, "admin")
    client.post(
        reverse("notifications:channel_add", args=[pk]),
        {f"ch{pk}-kind": "slack", f"ch{pk}-name": "ops", f"ch{pk}-url": receiver.url("/slack")},
    )
    channel = Channel.objects.get()
    client.post(reverse("notifications:channel_test", args=[channel.pk]))
    waiting = Delivery.objects.create(
        key="waiting",
        event=Event.objects.create(key="k", connection=personas.connection, kind=EventKind.TEST, title="t"),
        connection=personas.connection,
        channel=channel,
        medium="slack",
    )
    personas.login(client, "operator")
    assert client.post(reverse("notifications:channel_delete", args=[channel.pk])).status_code == 403
    personas.login(client, "admin")
    assert client.post(reverse("notifications:channel_delete", args=[channel.pk])).status_code == 302
    assert not Channel.objects.exists()
    assert Delivery.objects.filter(state="sent", channel=None).count() == 1
    waiting.refresh_from_db()
    assert waiting.state == "dead" and waiting.last_error == "The channel was removed."
    assert "a removed channel" in client.get(reverse("notifications:list")).content.decode()
