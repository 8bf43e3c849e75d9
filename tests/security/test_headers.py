"""Security headers on every response, secure cookies, and `check --deploy` clean with production settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/audit/", "/healthz", "/no-such-page/"])
def test_every_response_carries_the_security_headers(client, personas, path):
    personas.login(client, "auditor")
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_csv_downloads_carry_the_headers_too(client, personas):
    personas.login(client, "auditor")
    response = client.get("/audit/export.csv")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_http_only_and_same_site(client, personas):
    response = client.post("/accounts/login/", {"username": "april", "password": "correct-horse-battery-staple"})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert settings.CSRF_COOKIE_HTTPONLY


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "BEHIND_PROXY",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="false",
        SECURE_TLS="true",
        ORGPORTAL_TESTING="false",
        ALLOWED_HOSTS="portal.example.com",
        ORGPORTAL_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    # And in production, cookies are secure and HSTS is on.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0)",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "orgportal.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.stdout.strip() == "True True True True", probe.stderr
