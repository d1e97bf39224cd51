"""SM2 key files under TONGBAN["KEY_DIR"]/<purpose>/<name>.sm2 (private key hex, mode 0600).

A key is created on first use, exclusively (an existing file is never overwritten), so two
processes starting at once end up with the same key. Back the key directory up with the
database: a lost key cannot sign again, and a copied one can sign as you.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from django.conf import settings

from .crypto import sm2_keypair, sm2_public_key

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def key_path(purpose: str, name: str) -> Path:
    directory = Path(settings.TONGBAN["KEY_DIR"]) / _SAFE.sub("_", purpose)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory / f"{_SAFE.sub('_', name)}.sm2"


def sm2_key(purpose: str, name: str) -> tuple[str, str]:
    """(private hex, public hex) of the named key, created on first use."""
    path = key_path(purpose, name)
    if not path.exists():
        private_hex, _ = sm2_keypair()
        with contextlib.suppress(FileExistsError):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(private_hex + "\n")
    private_hex = path.read_text(encoding="ascii").strip()
    return private_hex, sm2_public_key(private_hex)
