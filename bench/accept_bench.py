"""What the portal adds on top of AWS when an approver accepts an invitation.

Starts orgsim, a fresh SQLite database (or DATABASE_URL), and N invited standalone accounts, each
with a connection and its cached received handshake. Each accept goes through the real view (a
signed-in POST through Django's test client: middleware, role checks, form, claim, audit intent,
the gateway call, apply, audit outcome, redirect). The time of the AcceptHandshake HTTP call itself
is measured with botocore's before-call/after-call events and subtracted.

Prints p50/p95/max of server time, of the AWS call, and of the difference (target: p50 ≤ 20 ms).
Usage: .venv/bin/python bench/accept_bench.py [N]
On PostgreSQL the figure depends on DB_CONN_MAX_AGE (settings): with the default 0 every request
opens a new database connection (several ms); a deployment behind gunicorn sets it (e.g. 60).
"""

from __future__ import annotations

import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import setup

# Production-like: DEBUG off (DEBUG keeps every SQL statement in memory and renders debug pages).
setup("accept-bench", static=True)

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection as db_connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from handshakes.models import Handshake  # noqa: E402
from handshakes.sync import handshake_row  # noqa: E402
from orgportal import aws  # noqa: E402
from orgportal.models import AwsConnection, AwsCredentials, CredentialMode, Grant, Role  # noqa: E402
from orgsim.testing import running  # noqa: E402


def _connection(name: str, account_id: str, endpoint: str) -> AwsConnection:
    credentials = AwsCredentials(mode=CredentialMode.KEYS, access_key_id=account_id)
    credentials.secret_access_key = "bench"
    credentials.save()
    return AwsConnection.objects.create(
        name=name, endpoint_url=endpoint, read_credentials=credentials, account_id=account_id
    )


_started: list[float] = []
_spans: list[float] = []


def _before(**_: object) -> None:
    _started.append(time.perf_counter())


def _after(**_: object) -> None:
    _spans.append((time.perf_counter() - _started[-1]) * 1000)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(n: int) -> None:
    user, _ = get_user_model().objects.get_or_create(username="bench-approver")
    client = Client(HTTP_HOST="localhost")  # an allowed host of the default settings
    client.force_login(user)
    run = secrets.token_hex(3)  # connection names are unique: a rerun on the same database adds its own
    with running(scenario="empty", seed=0) as sim:
        payer = sim.client("111111111111")
        payer.create_organization(FeatureSet="ALL")
        handshakes: list[Handshake] = []
        for i in range(n + 1):
            account_id = f"{555500000000 + i:012d}"
            data = payer.invite_account_to_organization(Target={"Id": account_id, "Type": "ACCOUNT"})["Handshake"]
            connection = _connection(f"Invited {run} {i}", account_id, sim.endpoint)
            Grant.objects.create(user=user, connection=connection, role=Role.APPROVER)
            row = handshake_row(data, connection)
            row["direction"] = "received"
            handshakes.append(Handshake.objects.create(connection=connection, **row))

        aws_ms: list[float] = []
        server_ms: list[float] = []
        for index, handshake in enumerate(handshakes):
            aws_client = aws.client_for(handshake.connection, "action")
            aws_client.meta.events.register("before-call.organizations.AcceptHandshake", _before)
            aws_client.meta.events.register("after-call.organizations.AcceptHandshake", _after)
            _spans.clear()
            url = reverse("handshake_accept", args=[handshake.pk])
            t0 = time.perf_counter()
            response = client.post(url, {"confirmed": "on"})
            total = (time.perf_counter() - t0) * 1000
            assert response.status_code == 302, response.content[:500]
            if index == 0:
                continue  # warm-up: first client, first template compile
            server_ms.append(total)
            aws_ms.append(sum(_spans))
        overhead = [s - a for s, a in zip(server_ms, aws_ms, strict=True)]
        db = db_connection.vendor
        max_age = db_connection.settings_dict.get("CONN_MAX_AGE")
        print(f"accept_bench: {n} accepts through the view, database {db}, CONN_MAX_AGE {max_age}")
        for label, values in (
            ("server time", server_ms),
            ("AcceptHandshake call", aws_ms),
            ("portal overhead", overhead),
        ):
            print(
                f"  {label:22s} p50 {statistics.median(values):6.1f} ms  p95 {pct(values, 95):6.1f} ms"
                f"  max {max(values):6.1f} ms"
            )
        print(f"  target: portal overhead p50 <= 20 ms -> {'OK' if statistics.median(overhead) <= 20 else 'OVER'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
