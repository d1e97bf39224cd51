"""Hashing and signing helpers: SM3 (GB/T 32905) through `cryptography`, SHA-256 beside it for
digests, SM2 signatures (GB/T 32918) through gmssl."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from gmssl import sm2  # type: ignore[import-untyped]


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


# ---- SM2 signatures (GB/T 32918, SM3withSM2 with the default user id 1234567812345678) ----
# gmssl does the curve arithmetic; this wrapper supplies what it leaves to the caller: a
# secret nonce from `secrets` (gmssl's own default uses `random`), range checks on r and s,
# a check that a public key lies on the curve, and a fixed encoding (hex without the 04
# prefix for keys, 64 raw bytes r‖s for signatures).

_SM2_N = int(sm2.default_ecc_table["n"], 16)
_SM2_P = int(sm2.default_ecc_table["p"], 16)
_SM2_A = int(sm2.default_ecc_table["a"], 16)
_SM2_B = int(sm2.default_ecc_table["b"], 16)
_SM2_G = sm2.default_ecc_table["g"]


class SM2KeyError(ValueError):
    """A malformed SM2 key."""


def sm2_public_key_normalise(public_hex: str) -> str:
    """The key as 128 lower-case hex chars; SM2KeyError unless it is a point on the curve."""
    return _sm2_public_hex(public_hex)


def _sm2_public_hex(public_hex: str) -> str:
    key = public_hex.strip().lower()
    if len(key) == 130 and key.startswith("04"):
        key = key[2:]
    if len(key) != 128 or any(c not in "0123456789abcdef" for c in key):
        raise SM2KeyError("SM2 public key must be 64 bytes x‖y in hex (optionally 04-prefixed)")
    x, y = int(key[:64], 16), int(key[64:], 16)
    if not (x < _SM2_P and y < _SM2_P) or (y * y - (x * x * x + _SM2_A * x + _SM2_B)) % _SM2_P:
        raise SM2KeyError("SM2 public key is not a point on the curve")
    return key


def _sm2_private_int(private_hex: str) -> int:
    try:
        d = int(private_hex, 16)
    except ValueError as error:
        raise SM2KeyError("SM2 private key must be hex") from error
    if not 1 <= d < _SM2_N - 1:
        raise SM2KeyError("SM2 private key out of range")
    return d


def _crypt_sm2(private_hex: str, public_hex: str) -> Any:
    """gmssl's CryptSM2 with the key set after construction: its constructor strips *every*
    leading "0" and "4" of a key that starts with "04" (`lstrip("04")`), which corrupts about
    one key in 256 whose x coordinate happens to start with 04."""
    crypt = sm2.CryptSM2(private_key=private_hex, public_key="")
    crypt.public_key = public_hex
    return crypt


def sm2_public_key(private_hex: str) -> str:
    """The public key (128 hex chars, x‖y) of an SM2 private key (64 hex chars)."""
    d = _sm2_private_int(private_hex)
    point: str = _crypt_sm2(private_hex, "")._kg(d, _SM2_G)
    return point.lower()


def sm2_keypair() -> tuple[str, str]:
    """A fresh SM2 key pair: (private key hex, public key hex x‖y)."""
    d = secrets.randbelow(_SM2_N - 2) + 1
    private_hex = f"{d:064x}"
    return private_hex, sm2_public_key(private_hex)


def sm2_sign(private_hex: str, data: bytes) -> bytes:
    """SM3withSM2 signature of `data`: 64 bytes, r‖s."""
    _sm2_private_int(private_hex)
    signer = _crypt_sm2(private_hex, sm2_public_key(private_hex))
    while True:
        k = f"{secrets.randbelow(_SM2_N - 1) + 1:064x}"
        signature = signer.sign_with_sm3(data, k)
        if signature:  # gmssl returns None for the rare unusable nonce; draw another
            return bytes.fromhex(signature)


def sm2_verify(public_hex: str, data: bytes, signature: bytes) -> bool:
    """True when `signature` (r‖s, 64 bytes) is a valid SM3withSM2 signature of `data`."""
    try:
        key = _sm2_public_hex(public_hex)
    except SM2KeyError:
        return False
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < _SM2_N and 1 <= s < _SM2_N):
        return False
    verifier = _crypt_sm2("", key)
    return bool(verifier.verify_with_sm3(signature.hex(), data))
