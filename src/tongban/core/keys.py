"""SM2 key files under TONGBAN["KEY_DIR"]/<purpose>/<name>.sm2 (private key hex, mode 0600).

A key is created on first use: written in full to a private temporary file, then linked into
place. The link fails if another process got there first (both then use the winner's key), and
nobody ever reads a half-written key. Back the key directory up with the database: a lost key
cannot sign again, and a copied one can sign as you.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from django.conf import settings

from .crypto import sm2_keypair, sm2_public_key

_SAFE = re.compile(r"^[0-9A-Za-z._-]{1,100}$")


def key_path(purpose: str, name: str) -> Path:
    if not (_SAFE.match(purpose) and _SAFE.match(name)) or ".." in f"{purpose}{name}":
        raise ValueError(f"unsafe key name {purpose!r}/{name!r}")
    directory = Path(settings.TONGBAN["KEY_DIR"]) / purpose
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory / f"{name}.sm2"


def sm2_private_key(purpose: str, name: str) -> str:
    """The private key (hex) of the named key, created on first use."""
    path = key_path(purpose, name)
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    private_hex, _ = sm2_keypair()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(private_hex + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
    finally:
        temporary.unlink(missing_ok=True)
    return private_hex


def sm2_key(purpose: str, name: str) -> tuple[str, str]:
    """(private hex, public hex) of the named key, created on first use."""
    private_hex = sm2_private_key(purpose, name)
    return private_hex, sm2_public_key(private_hex)


def sm2_key_stage(purpose: str, name: str, private_hex: str) -> Path:
    """Write `private_hex` durably (fsync, mode 0600) as a pending replacement of the named
    key, `<name>.sm2.pending-<UTC time>`; `sm2_key_promote` puts it in place. Until then the
    current key stays in use, and the pending file survives a crash in between."""
    from datetime import UTC, datetime

    path = key_path(purpose, name)
    pending = path.with_name(f"{path.name}.pending-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
    descriptor = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(private_hex + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return pending


def sm2_key_promote(purpose: str, name: str, pending: Path) -> None:
    """Make a staged key the named key. The key it replaces stays beside it as
    `<name>.sm2.retired-<UTC time>` (mode 0600): what it signed can still be checked, and
    nothing is lost if the change was a mistake. The swap is one rename: there is no moment
    without a key file (a concurrent first use would otherwise create a key of its own)."""
    from datetime import UTC, datetime

    path = key_path(purpose, name)
    if path.exists():
        retired = path.with_name(f"{path.name}.retired-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        os.link(path, retired)
    os.replace(pending, path)
