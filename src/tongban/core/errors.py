"""Domain errors: a stable English code for machines and a message for people.

Every app names its codes once, in its own `errors.py` (`ErrorCode`: the code, the error class
that gives its HTTP status, one message through gettext, so the English pages show English).
A service raises `CODE.error(**params)`; the message is rendered in the language of the request
that reads it.

A *refusal* (403, 404, 409: may not do, may not see, not in a state that allows it) of a
signed-in user is audited exactly once (ADR 0020): by the service, when it records its refusal
itself with more detail (`core.audit.refusal_record`, which marks the error recorded), or else by
the edge that answers — the API's error handler or the pages' middleware."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A refused or failed request. `status` is the HTTP status the API answers with."""

    status: ClassVar[int] = 400
    # A refusal of what the user asked (not bad input, not an outage): audited once.
    is_refusal: ClassVar[bool] = False

    def __init__(self, code: str, message: Any, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(str(message))
        self.code = code
        self._message = message
        self.fields = fields or {}
        self.recorded = False  # an audit record of this refusal exists (refusal_record)

    @property
    def message(self) -> str:
        """In the active language (a lazy gettext message is rendered when read)."""
        return str(self._message)

    def field_messages(self) -> dict[str, str]:
        return {name: str(text) for name, text in self.fields.items()}

    def mark_recorded(self) -> DomainError:
        """The service that raises this has recorded the refusal itself: the edge must not
        record it again."""
        self.recorded = True
        return self


class NotFound(DomainError):
    status = 404
    is_refusal = True


class PermissionDenied(DomainError):
    status = 403
    is_refusal = True


class Conflict(DomainError):
    status = 409
    is_refusal = True


class InvalidInput(DomainError):
    status = 422


class Unauthenticated(DomainError):
    status = 401


class Unavailable(DomainError):
    """A system this request depends on (another region, a registry) cannot answer now."""

    status = 503


@dataclass(frozen=True)
class ErrorCode:
    """One named error: its code, the class that gives its status, its one message (a lazy
    gettext string, with %(name)s placeholders)."""

    code: str
    kind: type[DomainError]
    message: Any  # str, or a lazy gettext string

    def error(self, *, fields: dict[str, Any] | None = None, **params: Any) -> DomainError:
        message = _Formatted(self.message, params) if params else self.message
        return self.kind(self.code, message, fields=fields)


class _Formatted:
    """A message with parameters, rendered (translated, then filled in) when read."""

    def __init__(self, message: Any, params: dict[str, Any]) -> None:
        self.message, self.params = message, params

    def __str__(self) -> str:
        return str(self.message) % {key: str(value) for key, value in self.params.items()}


# ---------------------------------------------------------------- the kernel's own codes

ID_NUMBER_LENGTH = ErrorCode("id_number_length", InvalidInput, _("身份证号码应为18位"))
ID_NUMBER_FORMAT = ErrorCode(
    "id_number_format",
    InvalidInput,
    _("身份证号码格式不正确：前17位应为数字，末位为数字或X"),
)
ID_NUMBER_BIRTH_DATE = ErrorCode(
    "id_number_birth_date", InvalidInput, _("身份证号码中的出生日期无效")
)
ID_NUMBER_CHECKSUM = ErrorCode(
    "id_number_checksum", InvalidInput, _("身份证号码校验位不正确，请核对后重新输入")
)
USCC_LENGTH = ErrorCode("uscc_length", InvalidInput, _("统一社会信用代码应为18位"))
USCC_FORMAT = ErrorCode(
    "uscc_format",
    InvalidInput,
    _("统一社会信用代码含有不允许的字符（不使用I、O、Z、S、V）"),
)
USCC_COMPONENT = ErrorCode("uscc_component", InvalidInput, _("统一社会信用代码的组成部分无效"))
USCC_CHECKSUM = ErrorCode(
    "uscc_checksum", InvalidInput, _("统一社会信用代码校验位不正确，请核对后重新输入")
)
