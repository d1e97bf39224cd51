"""Hashing helpers: SM3 (GB/T 32905) through `cryptography`, SHA-256 beside it for digests."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, hmac


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def keyed_sm3_hex(key: bytes, data: bytes) -> str:
    """HMAC-SM3, for values that must be matchable but not readable (tokens, log pseudonyms)."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()
