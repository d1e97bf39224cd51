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


def key_fingerprint(public_hex: str) -> str:
    """What administrators compare out of band: the first 16 hex chars of SM3(key hex)."""
    return sm3_hex(public_hex.encode())[:16]


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


# ---- SM2 public-key encryption (GB/T 32918.4), for short secrets such as a data key ----
# gmssl's own `encrypt` draws its ephemeral k with `random`, which must never protect a key;
# this one draws k from `secrets` and uses gmssl only for the point arithmetic. The encoding
# is C1‖C3‖C2 with C1 as 64 raw bytes x‖y (no 04 prefix), C3 = SM3(x2‖M‖y2) and C2 = M ⊕
# KDF(x2‖y2): what gmssl's `decrypt` (mode 1) reads, so either side can be checked against it.


class SM2DecryptError(ValueError):
    """Ciphertext not made for this key, or altered."""


def _sm2_kdf(z: bytes, length: int) -> bytes:
    out = b""
    counter = 1
    while len(out) < length:
        digest = hashes.Hash(hashes.SM3())
        digest.update(z + counter.to_bytes(4, "big"))
        out += digest.finalize()
        counter += 1
    return out[:length]


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm2_encrypt(public_hex: str, message: bytes) -> bytes:
    """Encrypt `message` (a few dozen bytes: a key) to the holder of `public_hex`'s private key."""
    if not message:
        raise ValueError("nothing to encrypt")
    key = _sm2_public_hex(public_hex)
    crypt = _crypt_sm2("", key)
    while True:
        k = secrets.randbelow(_SM2_N - 1) + 1
        c1 = bytes.fromhex(crypt._kg(k, _SM2_G))
        shared = bytes.fromhex(crypt._kg(k, key))
        mask = _sm2_kdf(shared, len(message))
        if any(mask):  # an all-zero mask (practically never) means: draw another k
            break
    c2 = bytes(a ^ b for a, b in zip(message, mask, strict=True))
    c3 = _sm3(shared[:32] + message + shared[32:])
    return c1 + c3 + c2


def sm2_decrypt(private_hex: str, ciphertext: bytes) -> bytes:
    """The message `sm2_encrypt` sealed for this private key; SM2DecryptError otherwise."""
    d = _sm2_private_int(private_hex)
    if len(ciphertext) <= 96:
        raise SM2DecryptError("SM2 ciphertext too short")
    c1, c3, c2 = ciphertext[:64], ciphertext[64:96], ciphertext[96:]
    try:
        point = _sm2_public_hex(c1.hex())  # C1 must lie on the curve
    except SM2KeyError as error:
        raise SM2DecryptError("SM2 ciphertext damaged (C1 not on the curve)") from error
    shared = bytes.fromhex(_crypt_sm2(private_hex, point)._kg(d, point))
    mask = _sm2_kdf(shared, len(c2))
    message = bytes(a ^ b for a, b in zip(c2, mask, strict=True))
    if not any(mask) or not secrets.compare_digest(_sm3(shared[:32] + message + shared[32:]), c3):
        raise SM2DecryptError("SM2 ciphertext not for this key, or altered")
    return message
