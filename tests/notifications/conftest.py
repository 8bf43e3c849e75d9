"""Real parts for the notification tests: an SMTP server (aiosmtpd) and an HTTP receiver on
127.0.0.1, and the scene of a billing invitation whose answer-by deadline is its 15-day expiry.

- `smtp`: a running aiosmtpd server; the settings send email to it. `smtp.messages` are the
  parsed `email.message.Message`s it received.
- `receiver`: an HTTP server recording every POST (path, headers, body); `receiver.script(...)`
  sets the next answers (a status, or "hang": hold the request until the client goes away).
  127.0.0.1 is allowed past the SSRF guard for it, explicitly.
- `invitation`: the payer invites the source to a billing transfer that starts far enough ahead
  (the first month start at least 20 days out) that the deadline is the expiry; both synced.
"""

from __future__ import annotations

import email
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from handshakes.models import Direction, Handshake
from tests.actions.conftest import (  # noqa: F401 - fixtures
    SOURCE_ACCOUNT_ID,
    Invitation,
    Side,
    billing_invitation,
    payer,
    source,
)
from tests.approvals.conftest import people  # noqa: F401 - a fixture: april asks, bob and carol approve
from transfers.services import start_choices


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- SMTP -------------------------------------------------------------------------------------


@dataclass
class Smtp:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, seconds: float = 10) -> list[Message]:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp(settings: Any) -> Iterator[Smtp]:
    from aiosmtpd.controller import Controller

    box = Smtp("127.0.0.1", free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = box.host
    settings.EMAIL_PORT = box.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield box
    finally:
        controller.stop()


def text_of(message: Message) -> str:
    """The text/plain part of a received message."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


# --- HTTP receiver ----------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # what we answered; None when the client went away first

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: list[int | str] = []
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                    received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, None)
                    receiver.requests.append(received)
                receiver.arrived.set()
                if answer == "hang":
                    # Hold the request until the client is gone (the test kills it).
                    self.connection.settimeout(60)
                    try:
                        while self.connection.recv(1):
                            pass
                    except OSError:
                        pass
                    return
                assert isinstance(answer, int)
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                received.status = answer

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # many workers posting at once are not turned away

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *answers: int | str) -> None:
        with self.lock:
            self.answers = list(answers)

    def acknowledged(self, path: str | None = None) -> list[Received]:
        return [r for r in self.requests if r.status is not None and 200 <= r.status < 300 and path in (None, r.path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.NOTIFY_ALLOWED_WEBHOOK_HOSTS = ["127.0.0.1"]
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


# --- scenes -----------------------------------------------------------------------------------


def sim_time(sim: Any) -> datetime:
    return datetime.fromtimestamp(sim.now(), tz=UTC)


@pytest.fixture
def invitation(orgsim: Any, payer: Side, source: Side) -> Invitation:  # noqa: F811 - fixtures by name
    now = sim_time(orgsim)
    start = next(s for s in start_choices(now, months=3) if s - now > timedelta(days=20))
    payer.org.client.invite_organization_to_transfer_responsibility(
        Type="BILLING",
        Target={"Id": SOURCE_ACCOUNT_ID, "Type": "ACCOUNT"},
        SourceName="Source org billing",
        StartTimestamp=start,
    )
    payer.sync()
    source.sync()
    handshake = Handshake.objects.get(
        connection=source.connection, action="TRANSFER_RESPONSIBILITY", direction=Direction.RECEIVED
    )
    return Invitation(payer=payer, source=source, handshake=handshake)


@pytest.fixture
def approver_of(make_user: Callable[..., Any]) -> Callable[..., Any]:
    """A user holding `roles` on a connection (an approver by default), with an email address."""

    def make(connection: Any, username: str = "april", roles: tuple[str, ...] = ("approver",)) -> Any:
        return make_user(username, roles=list(roles), connection=connection)

    return make
