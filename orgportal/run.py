"""The embedded default in one process tree: orgsim with demo data, the web server, a Celery
worker and beat, on SQLite with a broker that needs no server.

`make run` calls `python -m orgportal.run`. Running it again keeps the data (SQLite file and
orgsim's state file under var/). A supervisor loop restarts orgsim, the worker or beat when one
dies (with a growing delay if it keeps dying); only the web server's death, Ctrl-C or SIGTERM
stops everything it started. ORGPORTAL_VAR_DIR, ORGPORTAL_HOST, ORGPORTAL_PORT and ORGSIM_PORT
move it, so a second copy (a test) runs beside a developer's.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from orgportal.crypto import default_secret_key_file

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("ORGPORTAL_VAR_DIR", ROOT / "var"))
HOST = os.environ.get("ORGPORTAL_HOST", "127.0.0.1")
PORT = int(os.environ.get("ORGPORTAL_PORT", "8000"))
ORGSIM_PORT = int(os.environ.get("ORGSIM_PORT", "4566"))

# A process that dies within this many seconds of its start waits twice as long as last time
# before it is restarted (a crash loop does not spin); one that ran longer restarts at once.
STABLE_SECONDS = 60.0
FIRST_DELAY, MAX_DELAY = 1.0, 60.0


def _secret_key_file(var: Path = VAR) -> Path:
    """The embedded default's SECRET_KEY file, outside the data folder (created once, owner-only).

    A key left in the data folder by an older version moves out, so the secrets it encrypted
    stay readable and a copy of the data folder no longer carries its key.
    """
    path = default_secret_key_file(var)
    legacy = var / "secret_key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = legacy.read_text().strip() if legacy.is_file() else secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
    legacy.unlink(missing_ok=True)
    return path


def _environment() -> dict[str, str]:
    VAR.mkdir(parents=True, exist_ok=True)  # orgsim writes its state there before Django runs
    env = dict(os.environ)
    env.setdefault("SECRET_KEY_FILE", str(_secret_key_file()))
    # The demo's connections are the superuser's to choose: the server's own credentials may be
    # offered to them here. Deployments leave this off unless they mean it.
    env.setdefault("ORGPORTAL_ALLOW_AMBIENT_CREDENTIALS", "true")
    env.setdefault("ORGPORTAL_VAR_DIR", str(VAR))
    # Plain HTTP on localhost: no TLS, so no secure-only cookies or HTTPS redirect.
    env.setdefault("SECURE_TLS", "false")
    env.setdefault("DJANGO_SETTINGS_MODULE", "orgportal.settings")
    env.setdefault("SYNC_INTERVAL_SECONDS", "60")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for(url: str, seconds: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own local server
                return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


@dataclass
class Service:
    """One child process of the tree; `essential` ones stop everything when they die."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str]
    essential: bool = False
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float | None = None
    restarts: int = 0
    old: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> subprocess.Popen[bytes]:
        # Its own session: Ctrl-C reaches only us, and we stop each group in order.
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, start_new_session=True)  # noqa: S603
        self.started_at = time.monotonic()
        self.restart_at = None
        return self.proc

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def supervise(self, now: float) -> bool:
        """Restart this service if it died (after its delay); False if it is essential and died."""
        if self.proc is None or self.running():
            return True
        if self.essential:
            return False
        if self.restart_at is None:
            # A worker killed with SIGKILL leaves its pool children behind in its group.
            _kill_group(self.proc)
            self.old.append(self.proc)
            ran = now - self.started_at
            self.delay = FIRST_DELAY if ran >= STABLE_SECONDS else min(self.delay * 2, MAX_DELAY)
            self.restart_at = now + self.delay
            _say(f"{self.name} exited with {self.proc.returncode} after {ran:.0f} s; restarting in {self.delay:.0f} s")
        elif now >= self.restart_at:
            self.restarts += 1
            proc = self.start()
            _say(f"{self.name} restarted (pid {proc.pid}, restart {self.restarts})")
        return True

    def stop(self) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.terminate()

    def wait(self, seconds: float) -> None:
        """Wait for a graceful exit, then kill whatever is left of every group it had."""
        for proc in [*self.old, *([self.proc] if self.proc else [])]:
            try:
                proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                pass
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] run: {message}", file=sys.stderr, flush=True)


def main() -> int:
    env = _environment()
    python = sys.executable
    services: list[Service] = []

    def service(name: str, *args: str, essential: bool = False) -> Service:
        item = Service(name, args, env, essential=essential)
        services.append(item)
        return item

    def manage(*args: str) -> None:
        subprocess.run([python, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603

    def stop() -> None:
        # Last started, first stopped, one after the other: the worker finishes its sync while
        # orgsim still answers. Each leader shuts its own children down (Celery's warm shutdown,
        # gunicorn's graceful stop); whatever is left of a group after 10 s is killed.
        for item in reversed(services):
            item.stop()
            item.wait(10)

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    endpoint = f"http://127.0.0.1:{ORGSIM_PORT}"
    try:
        orgsim = service(
            "orgsim", python, "-m", "orgsim", "--host", "127.0.0.1", "--port", str(ORGSIM_PORT),
            "--scenario", "demo", "--state", str(VAR / "orgsim-state.json"),
        ).start()  # fmt: skip
        _wait_for(f"{endpoint}/_orgsim/health", 30, orgsim)
        manage("migrate", "--noinput", "-v", "0")
        manage("collectstatic", "--noinput", "-v", "0")
        manage("demo_setup", "--endpoint", endpoint)
        # One worker: no peers to gossip with, synchronise with or send heartbeats to. On the
        # filesystem broker a killed worker's event queue would also stay bound and collect every
        # later heartbeat as a file, forever.
        service(
            "celery worker", python, "-m", "celery", "-A", "orgportal", "worker", "--loglevel", "WARNING",
            "--concurrency", "2", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ).start()  # fmt: skip
        service("celery beat", python, "-m", "celery", "-A", "orgportal", "beat", "--loglevel", "WARNING",
                "--schedule", str(VAR / "celerybeat-schedule")).start()  # fmt: skip
        web = service(
            "web server", python, "-m", "gunicorn", "orgportal.wsgi", "--bind", f"{HOST}:{PORT}",
            "--workers", "2", "--threads", "4", "--access-logfile", "-", essential=True,
        ).start()  # fmt: skip
        _wait_for(f"http://{HOST}:{PORT}/healthz", 30, web)
        print(f"\norgportal is running at http://{HOST}:{PORT}/  (orgsim at {endpoint})")
        password = (
            (VAR / "demo_password").read_text().strip() if (VAR / "demo_password").exists() else "(DEMO_PASSWORD)"
        )
        print(f"Sign in as demo / {password} (also approver, operator, viewer, auditor). Ctrl-C stops.")
        print(
            f"Notification emails are written to {VAR / 'mail'}/ (set EMAIL_HOST to send them by SMTP).\n", flush=True
        )
        while all(item.supervise(time.monotonic()) for item in services):
            time.sleep(0.5)
        _say(f"the web server exited with {web.returncode}; stopping everything.")
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
