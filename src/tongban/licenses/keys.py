"""Signing keys of the licences app: one SM2 key per issuing department, one platform key
for presentations (亮证码) and status lists.

Private keys are files under TONGBAN["KEY_DIR"]/licenses/, created on first use with mode
0600 by `tongban.core.keys` (two processes racing to create one end up with the same key).
A key id is the first 16 hex characters of SM3 over the 64-byte public key.
"""

from __future__ import annotations

import re

from tongban.core.crypto import sm2_public_key, sm3_hex
from tongban.core.keys import sm2_private_key

_SAFE_NAME = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def key_id(public_hex: str) -> str:
    return sm3_hex(bytes.fromhex(public_hex))[:16]


def private_key(name: str) -> str:
    """The private key (hex) stored as `<name>.sm2`, created on first use (core.keys)."""
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe key name {name!r}")
    return sm2_private_key("licenses", name)


def issuer_private_key(department_code: str) -> str:
    return private_key(f"issuer-{department_code}")


def platform_private_key() -> str:
    """Signs presentations and the licence status list."""
    return private_key("platform")


def platform_public_key() -> str:
    return sm2_public_key(platform_private_key())
