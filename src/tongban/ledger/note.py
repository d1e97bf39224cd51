"""Signed notes, checkpoints and cosignatures in the C2SP formats (pure Python, no Django).

- Signed note (https://c2sp.org/signed-note): UTF-8 text ending in a newline, a blank line,
  then signature lines "— <key name> <base64(key id ‖ signature)>". The key id is the first
  four bytes of SHA-256(key name ‖ 0x0A ‖ signature type ‖ public key).
- Checkpoint (https://c2sp.org/tlog-checkpoint): the note body "<origin>\\n<size>\\n
  <base64 root hash>\\n" followed by optional extension lines.
- Cosignature (https://c2sp.org/tlog-cosignature): a witness signs "cosignature/v1\\ntime
  <unix seconds>\\n" + checkpoint body with Ed25519 (signature type 0x04); the signature bytes
  are the 8-byte big-endian timestamp ‖ the 64-byte Ed25519 signature.

Signature types: 0x01 Ed25519 (as Go's golang.org/x/mod/sumdb/note), 0x04 Ed25519 cosignature,
and for SM2 (SM3withSM2, GB/T 32918, default user id) the escape 0xff followed by the ASCII
identifier "sm2-sm3" (ADR 0008); its public key is the 64 bytes x‖y and its signature r‖s.

Verifier keys use the vkey text of Go's note package, "<name>+<hex key id>+<base64(type ‖
public key)>", and private keys its skey text, "PRIVATE+KEY+<name>+<hex key id>+<base64(type ‖
private key)>", so standard tooling reads our Ed25519 keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tongban.core.crypto import SM2KeyError, sm2_keypair, sm2_public_key, sm2_sign, sm2_verify

TYPE_ED25519 = b"\x01"
TYPE_COSIGNATURE = b"\x04"
SM2_IDENTIFIER = b"sm2-sm3"
TYPE_SM2 = b"\xff" + SM2_IDENTIFIER
SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, then a space
MAX_SIGNATURES = 100
COSIGNATURE_HEADER = "cosignature/v1\ntime {}\n"


class NoteError(ValueError):
    """A malformed note or checkpoint, or a note no trusted key signed."""


# ---- Key names, ids, vkeys ----------------------------------------------------------------


def _check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"invalid key name {name!r}: non-empty, no spaces, no '+'")
    return name


def key_id(name: str, signature_type: bytes, public_key: bytes) -> bytes:
    """First four bytes of SHA-256(name ‖ 0x0A ‖ type ‖ public key)."""
    return hashlib.sha256(name.encode() + b"\n" + signature_type + public_key).digest()[:4]


def _vkey(name: str, signature_type: bytes, public_key: bytes) -> str:
    identifier = key_id(name, signature_type, public_key).hex()
    return f"{name}+{identifier}+{base64.b64encode(signature_type + public_key).decode()}"


class Verifier(ABC):
    """Checks one key's signatures. `signature` is what follows the key id on the line."""

    signature_type: bytes

    def __init__(self, name: str, public_key: bytes) -> None:
        self.name = _check_name(name)
        self.public_key = public_key
        self.key_id = key_id(name, self.signature_type, public_key)

    def vkey(self) -> str:
        return _vkey(self.name, self.signature_type, self.public_key)

    @abstractmethod
    def verify(self, body: str, signature: bytes) -> bool: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey()!r})"


class Signer(ABC):
    """Signs as one key; `vkey()` is the text a verifier needs."""

    signature_type: bytes

    def __init__(self, name: str, public_key: bytes) -> None:
        self.name = _check_name(name)
        self.public_key = public_key
        self.key_id = key_id(name, self.signature_type, public_key)

    def vkey(self) -> str:
        return _vkey(self.name, self.signature_type, self.public_key)

    @abstractmethod
    def sign(self, body: str) -> bytes: ...

    @abstractmethod
    def skey(self) -> str:
        """The private key as Go note's skey text (keep it secret)."""

    @abstractmethod
    def verifier(self) -> Verifier: ...


def _skey(name: str, signature_type: bytes, private_key: bytes, public_key: bytes) -> str:
    identifier = key_id(name, signature_type, public_key).hex()
    encoded = base64.b64encode(signature_type + private_key).decode()
    return f"PRIVATE+KEY+{name}+{identifier}+{encoded}"


# ---- Ed25519 (0x01) --------------------------------------------------------------------------


def _ed25519_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _ed25519_check(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


class Ed25519Verifier(Verifier):
    signature_type = TYPE_ED25519

    def verify(self, body: str, signature: bytes) -> bool:
        return _ed25519_check(self.public_key, body.encode(), signature)


class Ed25519Signer(Signer):
    """Ed25519 note signer; `private_key_bytes` is the 32-byte seed."""

    signature_type = TYPE_ED25519

    def __init__(self, name: str, private_key_bytes: bytes) -> None:
        if len(private_key_bytes) != 32:
            raise NoteError("Ed25519 private key must be 32 bytes")
        self._private = Ed25519PrivateKey.from_private_bytes(private_key_bytes)
        self._seed = private_key_bytes
        super().__init__(name, _ed25519_public(self._private))

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return cls(name, seed)

    def sign(self, body: str) -> bytes:
        return self._private.sign(body.encode())

    def skey(self) -> str:
        return _skey(self.name, self.signature_type, self._seed, self.public_key)

    def verifier(self) -> Verifier:
        return Ed25519Verifier(self.name, self.public_key)


# ---- SM2 (0xff "sm2-sm3") --------------------------------------------------------------------


class SM2Verifier(Verifier):
    signature_type = TYPE_SM2

    def __init__(self, name: str, public_key: bytes) -> None:
        if len(public_key) != 64:
            raise NoteError("SM2 public key must be 64 bytes x‖y")
        super().__init__(name, public_key)

    def verify(self, body: str, signature: bytes) -> bool:
        return sm2_verify(self.public_key.hex(), body.encode(), signature)


class SM2Signer(Signer):
    """SM2 note signer; `private_hex` is the 64-hex-digit private key."""

    signature_type = TYPE_SM2

    def __init__(self, name: str, private_hex: str) -> None:
        try:
            public_hex = sm2_public_key(private_hex)
        except SM2KeyError as error:
            raise NoteError(str(error)) from error
        self._private_hex = private_hex.lower()
        super().__init__(name, bytes.fromhex(public_hex))

    @classmethod
    def generate(cls, name: str) -> SM2Signer:
        private_hex, _ = sm2_keypair()
        return cls(name, private_hex)

    def sign(self, body: str) -> bytes:
        return sm2_sign(self._private_hex, body.encode())

    def skey(self) -> str:
        private = bytes.fromhex(self._private_hex)
        return _skey(self.name, self.signature_type, private, self.public_key)

    def verifier(self) -> Verifier:
        return SM2Verifier(self.name, self.public_key)


# ---- Ed25519 cosignatures (0x04) ---------------------------------------------------------------


def cosigned_message(body: str, timestamp: int) -> str:
    return COSIGNATURE_HEADER.format(timestamp) + body


class CosignatureVerifier(Verifier):
    """A witness's key. Its signature bytes are timestamp (8, big-endian) ‖ Ed25519 (64)."""

    signature_type = TYPE_COSIGNATURE

    def verify(self, body: str, signature: bytes) -> bool:
        if len(signature) != 72:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        return _ed25519_check(
            self.public_key, cosigned_message(body, timestamp).encode(), signature[8:]
        )


class CosignatureSigner(Signer):
    """A witness's Ed25519 cosigning key; `private_key_bytes` is the 32-byte seed."""

    signature_type = TYPE_COSIGNATURE

    def __init__(
        self, name: str, private_key_bytes: bytes, *, timestamp: int | None = None
    ) -> None:
        if len(private_key_bytes) != 32:
            raise NoteError("Ed25519 private key must be 32 bytes")
        self._private = Ed25519PrivateKey.from_private_bytes(private_key_bytes)
        self._seed = private_key_bytes
        self.timestamp = timestamp  # None: the time of signing
        super().__init__(name, _ed25519_public(self._private))

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls(name, Ed25519Signer.generate(name)._seed)

    def sign(self, body: str) -> bytes:
        timestamp = int(time.time()) if self.timestamp is None else self.timestamp
        signature = self._private.sign(cosigned_message(body, timestamp).encode())
        return timestamp.to_bytes(8, "big") + signature

    def skey(self) -> str:
        return _skey(self.name, self.signature_type, self._seed, self.public_key)

    def verifier(self) -> Verifier:
        return CosignatureVerifier(self.name, self.public_key)


_VERIFIERS: dict[bytes, type[Verifier]] = {
    TYPE_ED25519: Ed25519Verifier,
    TYPE_COSIGNATURE: CosignatureVerifier,
}


def _split_key(text: str, parts: int) -> list[str]:
    # The base64 part may itself contain '+': split only as often as the format has fields.
    fields = text.strip().split("+", parts - 1) if isinstance(text, str) else []
    if len(fields) != parts or not all(fields):
        raise NoteError("malformed key text")
    return fields


def _decode_typed(encoded: str) -> tuple[bytes, bytes]:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise NoteError("malformed key: bad base64") from error
    if raw.startswith(TYPE_SM2):
        return TYPE_SM2, raw[len(TYPE_SM2) :]
    if raw[:1] in _VERIFIERS:
        return raw[:1], raw[1:]
    raise NoteError("unsupported signature type")


def verifier_from_vkey(vkey: str) -> Verifier:
    """Parse "<name>+<hex key id>+<base64(type ‖ public key)>" (Ed25519, cosignature, SM2)."""
    name, identifier, encoded = _split_key(vkey, 3)
    signature_type, public_key = _decode_typed(encoded)
    verifier: Verifier
    if signature_type == TYPE_SM2:
        verifier = SM2Verifier(name, public_key)
    else:
        if len(public_key) != 32:
            raise NoteError("Ed25519 public key must be 32 bytes")
        verifier = _VERIFIERS[signature_type](name, public_key)
    if verifier.key_id.hex() != identifier.lower():
        raise NoteError("key id does not match the key")
    return verifier


def signer_from_skey(skey: str) -> Signer:
    """Parse "PRIVATE+KEY+<name>+<hex key id>+<base64(type ‖ private key)>"."""
    private, key, name, identifier, encoded = _split_key(skey, 5)
    if (private, key) != ("PRIVATE", "KEY"):
        raise NoteError("not a private key")
    signature_type, private_key = _decode_typed(encoded)
    signer: Signer
    if signature_type == TYPE_SM2:
        signer = SM2Signer(name, private_key.hex())
    elif signature_type == TYPE_COSIGNATURE:
        signer = CosignatureSigner(name, private_key)
    else:
        signer = Ed25519Signer(name, private_key)
    if signer.key_id.hex() != identifier.lower():
        raise NoteError("key id does not match the key")
    return signer


# ---- Signed notes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


def _check_body(body: str) -> None:
    if not body.endswith("\n") or "\n\n" in body:
        raise NoteError("note text must end in a newline and contain no blank line")
    if any(ord(c) < 0x20 and c != "\n" for c in body):
        raise NoteError("note text must not contain control characters")


def note_sign(body: str, signers: Sequence[Signer]) -> str:
    """The signed note: body, a blank line, one signature line per signer (in order)."""
    _check_body(body)
    if not signers:
        raise NoteError("a note needs at least one signer")
    lines = [NoteSignature(s.name, s.key_id, s.sign(body)).line() for s in signers]
    return body + "\n" + "".join(lines)


def note_parse(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its body and signatures (none checked)."""
    if not isinstance(note, str) or not note.endswith("\n"):
        raise NoteError("malformed note: it must end in a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    body, block = note[: split + 1], note[split + 2 :]
    _check_body(body)
    signatures = []
    for line in block.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed signature line")
        fields = line[len(SIGNATURE_PREFIX) :].split(" ")
        if len(fields) != 2 or not fields[0]:
            raise NoteError("malformed signature line")
        try:
            raw = base64.b64decode(fields[1], validate=True)
        except (binascii.Error, ValueError) as error:
            raise NoteError("malformed signature: bad base64") from error
        if len(raw) < 5:
            raise NoteError("malformed signature: too short")
        signatures.append(NoteSignature(fields[0], raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("malformed note: no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError("malformed note: too many signatures")
    return body, signatures


def note_verify(note: str, verifiers: Sequence[Verifier]) -> tuple[str, list[str]]:
    """Check a note against known keys: (body, names of the verifiers whose signature checked).

    Signatures by unknown keys are ignored (they may be other witnesses'); a signature by a
    known key that does not verify makes the whole note invalid, as in Go's note.Open. Raises
    NoteError when the note is malformed or no known key signed it."""
    body, signatures = note_parse(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[str] = []
    seen: set[tuple[str, bytes]] = set()
    for signature in signatures:
        key = (signature.name, signature.key_id)
        verifier = known.get(key)
        if verifier is None or key in seen:
            continue
        seen.add(key)
        if not verifier.verify(body, signature.signature):
            raise NoteError(f"invalid signature by {signature.name}")
        verified.append(verifier.name)
    if not verified:
        raise NoteError("no trusted key signed this note")
    return body, verified


def note_add_signatures(note: str, lines: Sequence[str]) -> str:
    """Append signature lines (e.g. a witness's cosignature) to a signed note."""
    note_parse(note)
    return note + "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# ---- Checkpoints --------------------------------------------------------------------------------

_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, root hash and optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"


def checkpoint_parse(body: str) -> Checkpoint:
    """Parse a checkpoint body (the signed-note text); NoteError when malformed."""
    if not isinstance(body, str):
        raise NoteError("checkpoint must be text")
    _check_body(body)
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise NoteError("checkpoint needs origin, size and root hash lines")
    if not _SIZE.fullmatch(lines[1]) or len(lines[1]) > 20:
        raise NoteError("checkpoint size must be a decimal number")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError) as error:
        raise NoteError("checkpoint root hash is not base64") from error
    if len(root) != 32:
        raise NoteError("checkpoint root hash must be 32 bytes")
    return Checkpoint(lines[0], int(lines[1]), root, tuple(lines[3:]))


def checkpoint_open(note: str, verifiers: Sequence[Verifier], origin: str) -> Checkpoint:
    """Verify a signed checkpoint and check its origin line."""
    body, _ = note_verify(note, verifiers)
    checkpoint = checkpoint_parse(body)
    if checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


# ---- Cosignatures -------------------------------------------------------------------------------


def cosignature_sign(*, body: str, signer: CosignatureSigner, timestamp: int | None = None) -> str:
    """A witness's cosignature line over a checkpoint body ("— <name> <base64>\\n")."""
    _check_body(body)
    if timestamp is not None:
        signer = CosignatureSigner(signer.name, signer._seed, timestamp=timestamp)
    return NoteSignature(signer.name, signer.key_id, signer.sign(body)).line()


def cosignature_verify(*, note: str, verifier: Verifier) -> int:
    """The timestamp of `verifier`'s valid cosignature on `note`; NoteError if there is none."""
    if not isinstance(verifier, CosignatureVerifier):
        raise NoteError("not a cosignature key")
    body, signatures = note_parse(note)
    for signature in signatures:
        if (signature.name, signature.key_id) == (verifier.name, verifier.key_id):
            if verifier.verify(body, signature.signature):
                return int.from_bytes(signature.signature[:8], "big")
            raise NoteError(f"invalid cosignature by {verifier.name}")
    raise NoteError(f"no cosignature by {verifier.name}")
