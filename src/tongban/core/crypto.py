"""Hashing helpers: SM3 (GB/T 32905) through `cryptography`, SHA-256 beside it for digests."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def keyed_sm3_hex(key: bytes, data: bytes) -> str:
    """SM3-HMAC, for values that must be matchable but not readable (tokens, log pseudonyms)."""
    return hmac.new(key, data, lambda: _Sm3Hashlib()).hexdigest()


class _Sm3Hashlib:
    """Adapter so `hmac` can use cryptography's SM3 (hashlib has no SM3 on most builds)."""

    digest_size = 32
    block_size = 64

    def __init__(self, data: bytes = b"") -> None:
        self._hash = hashes.Hash(hashes.SM3())
        if data:
            self._hash.update(data)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def copy(self) -> _Sm3Hashlib:
        clone = _Sm3Hashlib()
        clone._hash = self._hash.copy()
        return clone

    def digest(self) -> bytes:
        return self._hash.copy().finalize()

    def hexdigest(self) -> str:
        return self.digest().hex()
