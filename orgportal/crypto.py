"""Encryption of stored secrets (AWS secret keys, external ids) with Fernet.

Keys come from ORGPORTAL_FERNET_KEYS (comma separated, first encrypts, all decrypt) or are
derived from SECRET_KEY, so a database dump alone never reveals a secret. The embedded default
keeps its SECRET_KEY in a file under the user's config folder, away from the data folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def default_secret_key_file(var_dir: Path) -> Path:
    """Where the embedded default keeps the SECRET_KEY of the data in `var_dir`.

    Not beside the SQLite database: a copy of the data folder (a backup, a shared volume) must
    not carry the key that decrypts the AWS secrets in it. One file per data folder, so two
    checkouts of one user never share (or overwrite) each other's key.
    """
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    config_dir = Path(os.environ.get("ORGPORTAL_CONFIG_DIR") or config_home / "orgportal")
    digest = hashlib.sha256(str(Path(var_dir).resolve()).encode()).hexdigest()[:16]
    return config_dir / f"secret_key.{digest}"


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.FERNET_KEYS)
    if not keys:
        digest = hashlib.sha256(("orgportal-fernet:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("stored secret cannot be decrypted with the configured keys") from None
