"""Benchmark: the streaming audit CSV export against PostgreSQL's own COPY, on 1,000,000 rows.

Standalone: `python bench/export_bench.py`. Uses DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/orgportal_bench), creating and migrating the database if
needed, then tops the audit table up to --rows rows with one INSERT ... SELECT generate_series
(inserts are allowed; the triggers refuse only UPDATE and DELETE, so the rows stay between runs).
The bench rows carry made-up hashes: `audit_verify` on this database reports them, by design.

Measures the export through the real view (Django test client, signed in as a superuser):
time to first byte, total time, bytes, rows/s and peak RSS growth; then
`COPY (SELECT same columns) TO STDOUT WITH CSV HEADER` through psycopg in the same run, and
prints the throughput ratio (target >= 0.3), first byte (< 1 s) and memory growth (< 50 MB).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/orgportal_bench"
COLUMNS = (
    "id, time, actor_label, actor_id, roles::text, ip, user_agent, connection_label, connection_id, resource, "
    "action, outcome, params::text, aws_request_id, error, prev_hash, hash"
)


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def top_up(rows: int) -> None:
    from django.db import connection

    from audit.models import AuditEvent

    have = AuditEvent.objects.count()
    missing = rows - have
    if missing <= 0:
        print(f"audit table already holds {have:,} rows")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_auditevent (time, actor_id, actor_label, roles, ip, user_agent, connection_id,
                connection_label, resource, action, params, outcome, aws_request_id, error, prev_hash, hash)
            SELECT now() - make_interval(secs => (%s::int - i)::float8), NULL, CASE WHEN i %% 3 = 0 THEN 'AWS' ELSE 'user' || (i %% 50) END,
                   '["viewer"]'::jsonb, '203.0.113.' || (i %% 250), 'Mozilla/5.0 (X11; Linux x86_64) bench',
                   1, 'Acme payer', 'h-' || lpad(i::text, 12, '0'), 'observed_change',
                   jsonb_build_object('State', 'OPEN', 'n', i, 'note', CASE WHEN i %% 1000 = 0 THEN '=cmd|x' ELSE 'ok' END),
                   'ok', 'req-' || i, '',
                   encode(sha256(('p' || i)::bytea), 'hex'), encode(sha256(('bench' || i || '-' || %s::text)::bytea), 'hex')
            FROM generate_series(1, %s::int) AS i
            """,
            [missing, have, missing],
        )
        cursor.execute("ANALYZE audit_auditevent")
    print(f"inserted {missing:,} rows in {time.perf_counter() - started:.1f}s")


def bench_view() -> dict[str, float]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user_model = get_user_model()
    user = user_model.objects.filter(username="bench-auditor").first() or user_model.objects.create_superuser(
        "bench-auditor", "bench@example.com", None
    )
    client = Client()
    client.force_login(user)
    reset_peak()
    before = rss_kb()
    started = time.perf_counter()
    response = client.get("/audit/export.csv")
    assert response.status_code == 200, response.status_code
    chunks = iter(response.streaming_content)
    first = next(chunks)
    first_byte = time.perf_counter() - started
    size = len(first)
    lines = first.count(b"\n")
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count(b"\n")
    total = time.perf_counter() - started
    response.close()
    return {
        "first_byte": first_byte,
        "total": total,
        "bytes": size,
        "rows": lines - 1,
        "growth_mb": (peak_kb() - before) / 1024,
    }


def bench_copy(url: str) -> dict[str, float]:
    import psycopg

    started = time.perf_counter()
    size = 0
    first_byte = None
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(
            f"COPY (SELECT {COLUMNS} FROM audit_auditevent ORDER BY id) TO STDOUT WITH CSV HEADER"
        ) as copy:
            for data in copy:
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                size += len(data)
    return {"first_byte": first_byte or 0.0, "total": time.perf_counter() - started, "bytes": size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        print("export_bench needs PostgreSQL (DATABASE_URL=postgres://...)", file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = url
    import logging

    from _django import setup

    setup("export-bench")
    logging.disable(logging.WARNING)
    top_up(args.rows)

    view = bench_view()
    copy = bench_copy(url)
    view_rate = view["rows"] / view["total"]
    copy_rate = view["rows"] / copy["total"]
    ratio = copy["total"] / view["total"]
    print(f"rows exported:           {view['rows']:,}")
    print(
        f"streaming export (view): first byte {view['first_byte'] * 1000:.0f} ms, total {view['total']:.2f}s, "
        f"{view['bytes'] / 1e6:.1f} MB, {view_rate:,.0f} rows/s, peak RSS growth {view['growth_mb']:.1f} MB"
    )
    print(
        f"PostgreSQL COPY:         first byte {copy['first_byte'] * 1000:.0f} ms, total {copy['total']:.2f}s, "
        f"{copy['bytes'] / 1e6:.1f} MB, {copy_rate:,.0f} rows/s"
    )
    checks = [
        ("throughput ratio to COPY", f"{ratio:.2f}x", ratio >= 0.3, ">= 0.3x"),
        ("time to first byte", f"{view['first_byte'] * 1000:.0f} ms", view["first_byte"] < 1.0, "< 1 s"),
        ("peak memory growth", f"{view['growth_mb']:.1f} MB", view["growth_mb"] < 50, "< 50 MB"),
    ]
    for label, value, ok, target in checks:
        print(f"{label:25s}{value:>12s}  target {target:8s} {'OK' if ok else 'MISSED'}")
    return 0 if all(ok for _label, _value, ok, _target in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
