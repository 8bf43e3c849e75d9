"""Notification benchmark: what the outbox step costs next to the sync that wrote the changes,
and how fast deliveries drain to a local receiver.

One organization with about 35,000 handshakes behind 20 ms of latency per call (orgsim's scale
scenario in its own process, as in bench/sync_bench.py): about 30 % of them are open, so the
second sync below sees about 10,000 handshakes change. Two syncs are measured, each followed by
`process_connection` in the same run: the first sync (every handshake new: created changes, a
"new invitation" event for each open received one) and a second after orgsim's clock moved 16
days (open invitations expire, old closed ones vanish: changed rows, an "expired" event each).
The figure is (sync + process_connection) / sync; target <= 1.10. Events fan out to an admin
and a signed webhook channel; then the webhook deliveries are drained to a receiver running in
its own process; target >= 200 deliveries per second.

    .venv/bin/python bench/notify_bench.py [--handshakes 35000] [--latency-ms 20] [--drain 4000]

Runs on a temporary SQLite database unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
class S(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=35_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--drain", type=int, default=4000, help="deliveries to drain for the rate")
    args = parser.parse_args()

    os.environ.setdefault("NOTIFY_ALLOWED_WEBHOOK_HOSTS", "127.0.0.1")
    from _django import setup

    setup("notify-bench")
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from sync_bench import orgsim_process

    from notifications.delivery import deliver_due
    from notifications.models import Delivery, Event
    from notifications.outbox import CURSOR_LAG
    from notifications.services import channel_add, process_connection
    from orgportal.models import AwsConnection, AwsCredentials, CredentialMode, Grant, Role
    from orgportal.sync import sync_connection

    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    port = int(receiver.stdout.readline())
    ok = True
    try:
        with orgsim_process(orgs=2, handshakes=2 * args.handshakes, transfers=200) as sim:
            account_id = sim.summary()["organizations"][0]["management_account_id"]
            sim.set_faults(latency_ms=args.latency_ms)
            credentials = AwsCredentials(mode=CredentialMode.KEYS, access_key_id=account_id)
            credentials.secret_access_key = "bench"
            credentials.save()
            connection = AwsConnection.objects.create(
                name=f"bench {secrets.token_hex(4)}", endpoint_url=sim.endpoint, read_credentials=credentials
            )
            admin = get_user_model().objects.create_user(f"admin-{secrets.token_hex(3)}", "")
            Grant.objects.create(user=admin, connection=connection, role=Role.ADMIN)
            channel_add(
                actor=admin, connection=connection, kind="webhook", name="bench", url=f"http://127.0.0.1:{port}/hook"
            )
            print(
                f"orgsim scale: ~{args.handshakes} handshakes for the measured organization, {args.latency_ms:g} ms per call"
            )

            def measured(label: str) -> None:
                nonlocal ok
                started = time.perf_counter()
                run = sync_connection(connection)
                synced = time.perf_counter() - started
                assert run is not None and run.status == "ok", run and run.error
                started = time.perf_counter()
                outcome = process_connection(connection)
                processed = time.perf_counter() - started
                ratio = (synced + processed) / synced
                ok = ok and ratio <= 1.10
                print(
                    f"\n{label}: sync {synced:.2f} s (+{run.created} ~{run.changed} -{run.vanished} rows), "
                    f"process_connection {processed:.2f} s: {outcome.changes} changes read, {outcome.events} events, "
                    f"{outcome.deliveries} deliveries"
                )
                print(f"  (sync + events) / sync = {ratio:.3f}x (target <= 1.10)")

            measured("first sync (every handshake new)")
            # As the next sync would, minutes later: the cursor settles past these changes.
            process_connection(connection, now=timezone.now() + CURSOR_LAG + timedelta(seconds=1))
            sim.advance(16 * 86400)
            measured("second sync, 16 days later (open invitations expired)")
            print(f"\nevents stored: {Event.objects.filter(connection=connection).count()}")

            # Deliveries: the webhook rows, drained to the receiver (another process).
            Delivery.objects.filter(connection=connection).exclude(medium="webhook").update(state="sent")
            waiting = Delivery.objects.filter(connection=connection, state="pending").count()
            started = time.perf_counter()
            drained = deliver_due(limit=min(args.drain, waiting))
            elapsed = time.perf_counter() - started
            rate = drained.sent / elapsed if elapsed else float("inf")
            ok = ok and rate >= 200 and drained.failed == 0
            print(
                f"\ndrain: {drained.sent} webhook deliveries sent ({drained.failed} failed) in {elapsed:.2f} s: "
                f"{rate:.0f} per second (target >= 200), i.e. {rate / 200:.2f}x the target"
            )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    print("\nRESULT:", "pass" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
