"""Fixtures for the audit tests: each test publishes its signed checkpoints to its own folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def checkpoint_dir(settings, tmp_path: Path) -> Path:
    """A fresh checkpoint folder, so one test's checkpoints never judge another test's trail."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    return settings.AUDIT_CHECKPOINT_DIR
