"""How a message leaves the portal: email through Django's email backend, Slack and Teams
incoming webhooks in their own formats, and a generic JSON webhook signed with HMAC-SHA256.

Webhook URLs are chosen by users, so every request goes through the SSRF guard: the host is
resolved here, every address it resolves to must be public (not loopback, private, link-local
— the cloud metadata address is link-local — multicast, reserved or unspecified) unless an
admin listed the host in NOTIFY_ALLOWED_WEBHOOK_HOSTS, and the connection is made to the very
address that was checked (no second lookup a DNS rebinding could answer differently). Redirects
are never followed: a 3xx is a failed delivery. Plain http is refused except to allowed hosts.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import escape

SIGNATURE_HEADER = "X-Orgportal-Signature"
TIMESTAMP_HEADER = "X-Orgportal-Timestamp"
DELIVERY_HEADER = "X-Orgportal-Delivery"
USER_AGENT = "orgportal-notifications/1"


class DeliveryError(Exception):
    """A message that did not get through (the receiver's status when it answered)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnsafeDestination(DeliveryError):
    """A webhook URL the SSRF guard refuses."""


@dataclass(frozen=True)
class Message:
    """What every channel renders: a title, a body, a link back to the page, and the facts."""

    delivery_key: str
    event_key: str
    kind: str
    kind_label: str
    connection: str
    title: str
    body: str
    url: str
    occurred_at: str
    data: dict[str, Any]


# --- the SSRF guard ---------------------------------------------------------------------------


def _allowed_hosts() -> set[str]:
    return {h.lower() for h in getattr(settings, "NOTIFY_ALLOWED_WEBHOOK_HOSTS", [])}


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for `url`, or UnsafeDestination saying why."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeDestination("That is not a valid URL.") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"https", "http"} or not host:
        raise UnsafeDestination("A webhook URL starts with https:// and names a host.")
    if parts.username or parts.password:
        raise UnsafeDestination("A webhook URL must not carry a user name or password.")
    allowed = host in _allowed_hosts()
    if parts.scheme == "http" and not allowed:
        raise UnsafeDestination("Webhooks are sent over https only.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UnsafeDestination(f"The host {host} does not resolve.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeDestination(f"The host {host} does not resolve.")
    if not allowed:
        refused = [a for a in addresses if not _is_public(a)]
        if refused:
            raise UnsafeDestination(
                f"The host {host} resolves to a private, loopback or link-local address ({refused[0]}); "
                "an administrator must allow it (NOTIFY_ALLOWED_WEBHOOK_HOSTS)."
            )
    return parts.scheme, host, port, addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the guard checked, whatever the name resolves to now."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, as for any https request.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post_json(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `url` through the guard; the status, or DeliveryError for anything but 2xx."""
    scheme, host, port, address = check_url(url)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = float(getattr(settings, "NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 10))
    factory = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    conn = factory(host, address, port, timeout)
    try:
        conn.request(
            "POST",
            target,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = conn.getresponse()
        response.read(65536)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{host}: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise DeliveryError(f"{host} answered HTTP {response.status}", status=response.status)
    return response.status


# --- formats ----------------------------------------------------------------------------------


def slack_payload(message: Message) -> dict[str, Any]:
    """Slack's incoming-webhook format: a fallback `text` and blocks with a link back."""
    return {
        "text": f"{message.title} — {message.url}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message.body[:2900]}},
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open in orgportal"}, "url": message.url}
                ],
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{message.connection} · {message.kind_label}"}],
            },
        ],
    }


def teams_payload(message: Message) -> dict[str, Any]:
    """A Teams incoming webhook (Workflows) message: one Adaptive Card with a link back."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": message.title,
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": message.body, "wrap": True},
                        {
                            "type": "TextBlock",
                            "text": f"{message.connection} · {message.kind_label}",
                            "isSubtle": True,
                            "wrap": True,
                        },
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open in orgportal", "url": message.url}],
                },
            }
        ],
    }


def webhook_payload(message: Message) -> dict[str, Any]:
    return {
        "delivery": message.delivery_key,
        "event": message.event_key,
        "kind": message.kind,
        "connection": message.connection,
        "title": message.title,
        "text": message.body,
        "url": message.url,
        "occurred_at": message.occurred_at,
        "data": message.data,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: v1= HMAC-SHA256 over "<timestamp>.<body>" (hex)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300) -> bool:
    """What a receiver does (README): the signature matches and the timestamp is recent."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def send_webhook(kind: str, url: str, secret: str, message: Message) -> int:
    """Send `message` to a Slack, Teams or signed webhook; the receiver's status."""
    if kind == "slack":
        payload = slack_payload(message)
    elif kind == "teams":
        payload = teams_payload(message)
    else:
        payload = webhook_payload(message)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    # The delivery id lets a receiver drop a retry of a message it already took (at-least-once).
    headers = {DELIVERY_HEADER: message.delivery_key}
    if kind == "webhook":
        timestamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    return post_json(url, body, headers)


# --- email ------------------------------------------------------------------------------------


def email_message(message: Message, *, to: str, unsubscribe_url: str) -> EmailMultiAlternatives:
    """One email: text and HTML, a link back, and the signed one-click unsubscribe link (in the
    body and as List-Unsubscribe, RFC 8058). The Message-ID is the delivery's, so a retry of a
    message the server already took is recognisable as the same message."""
    text = (
        f"{message.body}\n\nOpen it in orgportal: {message.url}\n\n"
        f"-- \n{message.connection} · {message.kind_label}\n"
        f"Stop these emails for {message.connection}: {unsubscribe_url}\n"
    )
    html = (
        f"<p>{escape(message.body)}</p>"
        f'<p><a href="{escape(message.url)}">Open it in orgportal</a></p>'
        f'<hr><p style="color:#666">{escape(message.connection)} · {escape(message.kind_label)}<br>'
        f'<a href="{escape(unsubscribe_url)}">Stop these emails for {escape(message.connection)}</a></p>'
    )
    domain = urlsplit(settings.NOTIFY_BASE_URL).hostname or "orgportal"
    mail = EmailMultiAlternatives(
        subject=f"[orgportal] {message.title}",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "Message-ID": f"<{hashlib.sha256(message.delivery_key.encode()).hexdigest()[:32]}@{domain}>",
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            DELIVERY_HEADER: message.delivery_key,
        },
    )
    mail.attach_alternative(html, "text/html")
    return mail
