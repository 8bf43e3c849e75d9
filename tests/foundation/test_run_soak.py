"""`make run` keeps running: syncs every few seconds for a while, the Celery worker SIGKILLed in
the middle of a sync, and the web server answers throughout, the worker comes back, syncs go on.

The whole embedded default (`python -m orgportal.run`: orgsim, migrate, demo logins, worker,
beat, gunicorn) starts in a temporary var dir on free ports, so it runs beside a developer's
`make run` and beside another copy of the suite. It always runs on SQLite and the filesystem
broker, also in the PostgreSQL + Redis pass: that is what `make run` is. ORGPORTAL_SOAK_SECONDS
sets how long it soaks (default 90).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOAK_SECONDS = int(os.environ.get("ORGPORTAL_SOAK_SECONDS", "90"))
PASSWORD = "soak-test-password-4c1b"  # the demo logins of a throwaway copy
DEMO_CONNECTIONS = 7  # one per organization of orgsim's demo scenario
WORKER_CONCURRENCY = 2  # run.py's: at most this many syncs are cut off by the kill


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> dict[int, str]:
    """{pid: command line} of the processes whose parent is `pid` (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _worker(run_pid: int) -> int | None:
    workers = [pid for pid, cmd in _children(run_pid).items() if "celery" in cmd and " worker " in cmd]
    return workers[0] if workers else None


class Browser:
    """A signed-in session over plain HTTP: a cookie jar and the login form's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def login(self, username: str, password: str) -> tuple[int, str]:
        status, page = self.get("/accounts/login/")
        assert status == 200, page[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        form = {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password}
        request = urllib.request.Request(
            self.base + "/accounts/login/",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Referer": self.base + "/accounts/login/"},
        )
        with self.opener.open(request, timeout=20) as response:
            return response.status, response.read().decode()


def _sync_runs(database: Path) -> list[tuple[int, str, str]]:
    """(connection id, status, started_at) of every SyncRun, read beside the running processes."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=20) as db:
        return db.execute("SELECT connection_id, status, started_at FROM orgportal_syncrun").fetchall()


@pytest.mark.celery_worker
@pytest.mark.timeout(SOAK_SECONDS + 300)
def test_make_run_keeps_serving_and_syncing_through_a_killed_worker(tmp_path: Path) -> None:
    var = tmp_path / "var"
    port, orgsim_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    # The embedded default, whatever this suite runs on.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    env |= {
        "ORGPORTAL_VAR_DIR": str(var),
        "ORGPORTAL_CONFIG_DIR": str(tmp_path / "config"),  # its secret key, not in ~/.config
        "ORGPORTAL_PORT": str(port),
        "ORGSIM_PORT": str(orgsim_port),
        "ORGPORTAL_TESTING": "false",
        "SYNC_INTERVAL_SECONDS": "3",
        "DEMO_PASSWORD": PASSWORD,
        "PYTHONPATH": str(ROOT),
    }
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log_file:
        run = subprocess.Popen(
            [sys.executable, "-m", "orgportal.run"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    pids: set[int] = set()  # every process of the tree ever seen, to check none outlives it

    def log() -> str:
        return log_path.read_text(errors="replace")

    try:
        deadline = time.monotonic() + 240
        while "orgportal is running at" not in log():
            assert run.poll() is None, f"make run exited with {run.returncode}:\n{log()[-4000:]}"
            assert time.monotonic() < deadline, f"make run did not start in time:\n{log()[-4000:]}"
            time.sleep(0.5)
        browser = Browser(base)
        status, page = browser.login("demo", PASSWORD)
        assert status == 200 and "Sign out" in page, page[:1000]

        database = var / "orgportal.sqlite3"
        answers: list[tuple[float, int, int]] = []  # (time, login page status, signed-in page status)
        killed_pid = None
        killed_at = ""
        started = time.monotonic()
        while time.monotonic() - started < SOAK_SECONDS:
            pids |= _descendants(run.pid)
            answers.append((time.monotonic(), browser.get("/accounts/login/")[0], browser.get("/")[0]))
            if killed_pid is None and time.monotonic() - started > SOAK_SECONDS / 3:
                # Kill the worker while it syncs: the worst moment.
                if any(status == "running" for _, status, _ in _sync_runs(database)):
                    killed_pid = _worker(run.pid)
                    assert killed_pid is not None
                    killed_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                    os.kill(killed_pid, signal.SIGKILL)
            time.sleep(0.25)
        assert killed_pid is not None, "no sync was ever seen running"

        assert run.poll() is None, f"make run stopped:\n{log()[-4000:]}"
        # The web server answered every request, before and after the kill.
        assert answers and all(login == 200 and signed_in == 200 for _, login, signed_in in answers), [
            a for a in answers if a[1:] != (200, 200)
        ][:10]
        # The worker was restarted (a new process), and said so.
        worker = _worker(run.pid)
        assert worker is not None and worker != killed_pid
        assert "celery worker restarted" in log()
        # Syncs went on after the kill: every connection but those the kill cut off mid-sync.
        after = {pk for pk, status, at in _sync_runs(database) if status == "ok" and at > killed_at}
        assert len(after) >= DEMO_CONNECTIONS - WORKER_CONCURRENCY, (after, _sync_runs(database)[-20:])
        assert "Unrecoverable error" not in log() and "JSONDecodeError" not in log(), log()[-4000:]
        # Nothing piles up in the broker: no message for a queue nobody consumes (a dead
        # worker's), none stuck (names start with the publisher's monotonic clock, in ms).
        waiting = [name for name in os.listdir(var / "broker" / "out") if not name.startswith(".")]
        assert {name.partition(".")[2] for name in waiting} <= {"celery.msg"}, waiting
        assert all(time.monotonic() - int(name.partition("_")[0]) / 1000 < 30 for name in waiting), waiting
    finally:
        pids |= _descendants(run.pid)
        run.send_signal(signal.SIGTERM)
        try:
            code = run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
            raise
    assert code == 0, log()[-4000:]
    # SIGTERM stopped everything it started, the restarted worker and the orgsim included.
    assert [pid for pid in pids if _alive(pid)] == []
