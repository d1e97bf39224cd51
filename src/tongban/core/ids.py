"""Resident ID numbers (GB 11643) and unified social credit codes (GB 32100).

Validation is python-stdnum's; this module turns its exceptions into a reason a person can act
on, in Chinese, with a stable code.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from stdnum.cn import ric, uscc
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from . import errors
from .errors import ErrorCode

_RIC_REASONS: dict[type[ValidationError], ErrorCode] = {
    InvalidLength: errors.ID_NUMBER_LENGTH,
    InvalidFormat: errors.ID_NUMBER_FORMAT,
    InvalidComponent: errors.ID_NUMBER_BIRTH_DATE,
    InvalidChecksum: errors.ID_NUMBER_CHECKSUM,
}
_USCC_REASONS: dict[type[ValidationError], ErrorCode] = {
    InvalidLength: errors.USCC_LENGTH,
    InvalidFormat: errors.USCC_FORMAT,
    InvalidComponent: errors.USCC_COMPONENT,
    InvalidChecksum: errors.USCC_CHECKSUM,
}


def _reason(reasons: dict[type[ValidationError], ErrorCode], error: ValidationError) -> ErrorCode:
    for kind, reason in reasons.items():
        if isinstance(error, kind):
            return reason
    return next(iter(reasons.values()))


def validate_resident_id(value: str) -> str:
    """Return the normalised 18-character resident ID number or raise InvalidInput."""
    try:
        number = ric.validate(value)
    except (InvalidComponent, KeyError) as error:
        # stdnum also rejects (or trips over) address codes it does not know; GB/T 2260 codes
        # change over the years and old numbers keep old codes, so only the birth date and the
        # check digit decide.
        number = ric.compact(value)
        try:
            ric.get_birth_date(number)
        except ValidationError:
            raise _RIC_REASONS[InvalidComponent].error() from error
        if ric.calc_check_digit(number) != number[-1]:
            raise _RIC_REASONS[InvalidChecksum].error() from error
    except ValidationError as error:
        raise _reason(_RIC_REASONS, error).error() from error
    if len(number) != 18:  # 15-digit numbers predate 1999 and are not accepted online
        raise _RIC_REASONS[InvalidLength].error()
    return str(number)


def validate_uscc(value: str) -> str:
    """Return the normalised unified social credit code or raise InvalidInput."""
    try:
        return str(uscc.validate(value))
    except ValidationError as error:
        raise _reason(_USCC_REASONS, error).error() from error


def resident_id_checksum(first17: str) -> str:
    """The GB 11643 check character for 17 digits (used to make synthetic demo people)."""
    return str(ric.calc_check_digit(first17 + "0"))  # stdnum drops the last character


def uscc_checksum(first17: str) -> str:
    """The GB 32100 check character for 17 characters."""
    return str(uscc.calc_check_digit(first17))


def uuid_or_not_found(value: object, not_found: ErrorCode) -> UUID:
    """A path or body id as a UUID; anything else is `not_found` (a 404: an unknown object),
    never a 500."""
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise not_found.error() from None


def synthetic_id_number(division: str, birth: date, sequence: int) -> str:
    """A valid-looking 居民身份证号 for synthetic people (demo data, tests, benchmarks): the
    division, the birth date, a 3-digit sequence and the right check character."""
    first17 = f"{division[:6]}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_checksum(first17)


def synthetic_uscc(division: str, body: str) -> str:
    """A valid 统一社会信用代码 for a synthetic enterprise (registration type 91)."""
    first17 = f"91{division[:6]}{body[:9]}"
    return first17 + uscc_checksum(first17)
