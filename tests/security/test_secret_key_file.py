"""The embedded default's key material lives outside the data folder.

SECRET_KEY (from which the Fernet key of stored AWS secrets is derived) must not sit beside the
SQLite database: a copy of the data folder would carry the key that decrypts it.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orgportal import run
from orgportal.crypto import default_secret_key_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: Any) -> Path:
    path = tmp_path / "config"
    monkeypatch.setenv("ORGPORTAL_CONFIG_DIR", str(path))
    return path


def test_make_run_writes_its_secret_key_outside_the_data_folder_owner_only(tmp_path: Path, config_dir: Path) -> None:
    var = tmp_path / "var"
    path = run._secret_key_file(var)

    assert path == default_secret_key_file(var)
    assert config_dir in path.parents and var not in path.parents
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text()) >= 50
    assert not (var / "secret_key").exists()
    assert run._secret_key_file(var).read_text() == path.read_text()  # written once


def test_a_key_left_in_the_data_folder_moves_out_and_keeps_its_value(tmp_path: Path, config_dir: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    (var / "secret_key").write_text("the-key-that-encrypted-the-stored-secrets\n")

    path = run._secret_key_file(var)

    assert path.read_text() == "the-key-that-encrypted-the-stored-secrets"
    assert not (var / "secret_key").exists()


def test_two_data_folders_get_two_keys(tmp_path: Path, config_dir: Path) -> None:
    assert run._secret_key_file(tmp_path / "a") != run._secret_key_file(tmp_path / "b")


def _settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRET_KEY_FILE", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **clean,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "orgportal.settings",
            "ORGPORTAL_TESTING": "false",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_read_the_key_from_the_config_folder(tmp_path: Path, config_dir: Path) -> None:
    var = tmp_path / "var"
    run._secret_key_file(var)
    done = _settings({"ORGPORTAL_VAR_DIR": str(var), "ORGPORTAL_CONFIG_DIR": str(config_dir)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == default_secret_key_file(var).read_text()


def test_settings_refuse_a_key_file_inside_the_data_folder(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    (var / "secret_key").write_text("x" * 50)
    done = _settings({"ORGPORTAL_VAR_DIR": str(var), "SECRET_KEY_FILE": str(var / "secret_key")})
    assert done.returncode != 0
    assert "is inside the data folder" in done.stderr
