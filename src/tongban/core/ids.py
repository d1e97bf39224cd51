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

from .errors import InvalidInput, NotFound

_RIC_REASONS: dict[type[ValidationError], tuple[str, str]] = {
    InvalidLength: ("id_number_length", "身份证号码应为18位"),
    InvalidFormat: ("id_number_format", "身份证号码格式不正确：前17位应为数字，末位为数字或X"),
    InvalidComponent: ("id_number_birth_date", "身份证号码中的出生日期无效"),
    InvalidChecksum: ("id_number_checksum", "身份证号码校验位不正确，请核对后重新输入"),
}
_USCC_REASONS: dict[type[ValidationError], tuple[str, str]] = {
    InvalidLength: ("uscc_length", "统一社会信用代码应为18位"),
    InvalidFormat: ("uscc_format", "统一社会信用代码含有不允许的字符（不使用I、O、Z、S、V）"),
    InvalidComponent: ("uscc_component", "统一社会信用代码的组成部分无效"),
    InvalidChecksum: ("uscc_checksum", "统一社会信用代码校验位不正确，请核对后重新输入"),
}


def _reason(
    reasons: dict[type[ValidationError], tuple[str, str]], error: ValidationError
) -> tuple[str, str]:
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
            raise InvalidInput(*_RIC_REASONS[InvalidComponent]) from error
        if ric.calc_check_digit(number) != number[-1]:
            raise InvalidInput(*_RIC_REASONS[InvalidChecksum]) from error
    except ValidationError as error:
        code, message = _reason(_RIC_REASONS, error)
        raise InvalidInput(code, message) from error
    if len(number) != 18:  # 15-digit numbers predate 1999 and are not accepted online
        raise InvalidInput(*_RIC_REASONS[InvalidLength])
    return str(number)


def validate_uscc(value: str) -> str:
    """Return the normalised unified social credit code or raise InvalidInput."""
    try:
        return str(uscc.validate(value))
    except ValidationError as error:
        code, message = _reason(_USCC_REASONS, error)
        raise InvalidInput(code, message) from error


def resident_id_checksum(first17: str) -> str:
    """The GB 11643 check character for 17 digits (used to make synthetic demo people)."""
    return str(ric.calc_check_digit(first17 + "0"))  # stdnum drops the last character


def uscc_checksum(first17: str) -> str:
    """The GB 32100 check character for 17 characters."""
    return str(uscc.calc_check_digit(first17))


def uuid_or_not_found(value: object, code: str, message: str) -> UUID:
    """A path or body id as a UUID; anything else is a 404 (an unknown object), never a 500."""
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise NotFound(code, message) from None


def synthetic_id_number(division: str, birth: date, sequence: int) -> str:
    """A valid-looking 居民身份证号 for synthetic people (demo data, tests, benchmarks): the
    division, the birth date, a 3-digit sequence and the right check character."""
    first17 = f"{division[:6]}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_checksum(first17)


def synthetic_uscc(division: str, body: str) -> str:
    """A valid 统一社会信用代码 for a synthetic enterprise (registration type 91)."""
    first17 = f"91{division[:6]}{body[:9]}"
    return first17 + uscc_checksum(first17)
