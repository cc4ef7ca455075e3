"""The platform's secrets: from settings when given, else generated once and kept private.

Two keys exist: one signs login tokens (``jwt``), one hashes personal identifiers (``pii``).
A key generated here is written under ``BAMRUNG_HOME`` readable by its owner only, so that
every worker and every later run uses the same one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from layers.store.settings import Settings


def write_private(path: Path, secret: str) -> None:
    """Write a secret to a file that is never readable by others, not even for a moment."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")


def _kept(given: SecretStr | None, path: Path) -> str:
    if given is not None:
        return given.get_secret_value()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip()


def signing_key(settings: Settings) -> str:
    """The key that signs login tokens (``BAMRUNG_JWT_SECRET``, else ``HOME/jwt.key``)."""
    return _kept(settings.jwt_secret, settings.home / "jwt.key")


def pii_key(settings: Settings) -> bytes:
    """The key for hashing personal identifiers (``BAMRUNG_PII_KEY``, else ``HOME/pii.key``)."""
    return _kept(settings.pii_key, settings.home / "pii.key").encode()
