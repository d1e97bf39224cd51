"""证照标识 (GB/T 36904): build, check and parse licence identifiers (pure, no Django).

    1.2.156.3005.2 . {证照类型代码} . {颁发机构代码} . {流水号} . {版本号} . {校验位}

The check character is ISO/IEC 7064 MOD 37,36 (a hybrid system over the 36 symbols 0-9A-Z)
computed over type code + issuer code + serial + version with the dots removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT_OID = "1.2.156.3005.2"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MODULUS = 36

# 证照类型代码: the USCC (18) of the defining body + a 3-digit sequence.
TYPE_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}[0-9]{3}$")
# 颁发机构代码: a USCC (18 characters).
ISSUER_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
SERIAL = re.compile(r"^[0-9A-Z]{1,32}$")
VERSION = re.compile(r"^[0-9]{3}$")


class IdentifierError(ValueError):
    """A malformed licence identifier or part of one."""


def check_character(text: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character of `text` (0-9A-Z, dots ignored)."""
    product = _MODULUS
    for character in text.replace(".", ""):
        value = ALPHABET.find(character)
        if value < 0:
            raise IdentifierError(f"character {character!r} is not in 0-9A-Z")
        product = (product + value) % _MODULUS or _MODULUS
        product = (product * 2) % (_MODULUS + 1)
    return ALPHABET[(_MODULUS + 1 - product) % _MODULUS]


def identifier_build(*, type_code: str, issuer_code: str, serial: str, version: int = 1) -> str:
    """A complete identifier with its check character."""
    version_text = f"{version:03d}"
    for name, pattern, value in (
        ("type_code", TYPE_CODE, type_code),
        ("issuer_code", ISSUER_CODE, issuer_code),
        ("serial", SERIAL, serial),
        ("version", VERSION, version_text),
    ):
        if not pattern.match(value):
            raise IdentifierError(f"{name} {value!r} does not follow GB/T 36904")
    body = f"{type_code}.{issuer_code}.{serial}.{version_text}"
    return f"{ROOT_OID}.{body}.{check_character(body)}"


@dataclass(frozen=True)
class LicenseIdentifier:
    type_code: str
    issuer_code: str
    serial: str
    version: str
    check: str

    def __str__(self) -> str:
        return ".".join(
            (ROOT_OID, self.type_code, self.issuer_code, self.serial, self.version, self.check)
        )


def identifier_parse(identifier: str) -> LicenseIdentifier:
    """Split and check an identifier; IdentifierError says what is wrong."""
    if not isinstance(identifier, str) or not identifier.startswith(ROOT_OID + "."):
        raise IdentifierError(f"identifier must start with {ROOT_OID}")
    parts = identifier[len(ROOT_OID) + 1 :].split(".")
    if len(parts) != 5:
        raise IdentifierError("identifier must have type, issuer, serial, version and check")
    type_code, issuer_code, serial, version, check = parts
    # Some provinces use a region code or an older type code: only the shape of each part
    # and the check character are enforced when reading (strict shapes when building).
    for part in (type_code, issuer_code, serial, version):
        if not part or any(c not in ALPHABET for c in part):
            raise IdentifierError("identifier parts must be upper-case 0-9A-Z")
    if not VERSION.match(version):
        raise IdentifierError("version must be three digits")
    expected = check_character(type_code + issuer_code + serial + version)
    if check != expected:
        raise IdentifierError(f"check character is {check!r}, expected {expected!r}")
    return LicenseIdentifier(type_code, issuer_code, serial, version, check)
