"""Key files of the ledger: one file per private key under TONGBAN["KEY_DIR"]/ledger.

A key file holds the key in Go note's skey text ("PRIVATE+KEY+<name>+<key id>+<base64>"),
mode 0600, created exclusively (an existing file is never overwritten). The database keeps
only the public vkey and the file name (`SigningKey`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings

from .note import Signer, signer_from_skey

KEY_SUBDIR = "ledger"


def key_dir() -> Path:
    directory = Path(settings.TONGBAN["KEY_DIR"]) / KEY_SUBDIR
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def key_file_name(signer: Signer, algorithm: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", signer.name)[:120]
    return f"{safe}.{algorithm}.{signer.key_id.hex()}.skey"


def key_file_write(signer: Signer, algorithm: str) -> str:
    """Write a new key file (mode 0600, never overwriting); returns its file name."""
    name = key_file_name(signer, algorithm)
    path = key_dir() / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(signer.skey() + "\n")
    return name


def key_file_read(file_name: str) -> Signer:
    path = key_dir() / Path(file_name).name
    return signer_from_skey(path.read_text(encoding="ascii").strip())
