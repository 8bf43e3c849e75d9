"""The embedded default in one process tree: orgsim with demo data, the web server, a Celery
worker and beat, on SQLite with a broker that needs no server.

`make run` calls `python -m orgportal.run`. Running it again keeps the data (SQLite file and
orgsim's state file under var/). Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from orgportal.crypto import default_secret_key_file

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("ORGPORTAL_VAR_DIR", ROOT / "var"))
HOST = os.environ.get("ORGPORTAL_HOST", "127.0.0.1")
PORT = int(os.environ.get("ORGPORTAL_PORT", "8000"))
ORGSIM_PORT = int(os.environ.get("ORGSIM_PORT", "4566"))


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


def main() -> int:
    env = _environment()
    python = sys.executable
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
        procs.append(proc)
        return proc

    def manage(*args: str) -> None:
        subprocess.run([python, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603

    def stop(*_: object) -> None:
        # Each leader shuts its own children down (Celery's warm shutdown, gunicorn's graceful
        # stop); whatever is left of a group after 10 s is killed.
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    endpoint = f"http://127.0.0.1:{ORGSIM_PORT}"
    try:
        orgsim = start(
            python, "-m", "orgsim", "--host", "127.0.0.1", "--port", str(ORGSIM_PORT),
            "--scenario", "demo", "--state", str(VAR / "orgsim-state.json"),
        )  # fmt: skip
        _wait_for(f"{endpoint}/_orgsim/health", 30, orgsim)
        manage("migrate", "--noinput", "-v", "0")
        manage("collectstatic", "--noinput", "-v", "0")
        manage("demo_setup", "--endpoint", endpoint)
        start(python, "-m", "celery", "-A", "orgportal", "worker", "--loglevel", "WARNING", "--concurrency", "2")
        start(python, "-m", "celery", "-A", "orgportal", "beat", "--loglevel", "WARNING",
              "--schedule", str(VAR / "celerybeat-schedule"))  # fmt: skip
        web = start(
            python, "-m", "gunicorn", "orgportal.wsgi", "--bind", f"{HOST}:{PORT}",
            "--workers", "2", "--threads", "4", "--access-logfile", "-",
        )  # fmt: skip
        _wait_for(f"http://{HOST}:{PORT}/healthz", 30, web)
        print(f"\norgportal is running at http://{HOST}:{PORT}/  (orgsim at {endpoint})")
        password = (
            (VAR / "demo_password").read_text().strip() if (VAR / "demo_password").exists() else "(DEMO_PASSWORD)"
        )
        print(f"Sign in as demo / {password} (also approver, operator, viewer, auditor). Ctrl-C stops.")
        print(
            f"Notification emails are written to {VAR / 'mail'}/ (set EMAIL_HOST to send them by SMTP).\n", flush=True
        )
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        failed = [p for p in procs if p.poll() is not None]
        print(f"{failed[0].args!r} exited with {failed[0].returncode}; stopping.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…")
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
