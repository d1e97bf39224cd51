"""The error codes of the identity app, each named once with its one message (ADR 0020)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import DomainError, ErrorCode, InvalidInput, NotFound


class AuthenticationFailed(DomainError):
    status = 401


class LockedOut(DomainError):
    status = 429


class TooManyRequests(DomainError):
    status = 429


PHONE_FORMAT = ErrorCode("phone_format", InvalidInput, _("手机号码应为以1开头的11位数字"))
NAME_REQUIRED = ErrorCode("name_required", InvalidInput, _("请填写姓名"))
ID_NUMBER_TAKEN = ErrorCode("id_number_taken", InvalidInput, _("该身份证号码已注册"))
PHONE_TAKEN = ErrorCode("phone_taken", InvalidInput, _("该手机号码已注册"))
USCC_TAKEN = ErrorCode("uscc_taken", InvalidInput, _("该统一社会信用代码已登记"))
ALREADY_REGISTERED = ErrorCode(
    "already_registered", InvalidInput, _("该身份证号码或手机号码已注册，请直接登录")
)
DIVISION_NOT_FOUND = ErrorCode("division_not_found", NotFound, _("区划 %(code)s 不存在"))
SCOPE_OUTSIDE_DEPARTMENT = ErrorCode(
    "scope_outside_department",
    InvalidInput,
    _("工作人员管辖区划须为部门所在区划或其下级区划"),
)
PASSWORD_WEAK = ErrorCode("password_weak", InvalidInput, _("密码强度不足：%(reasons)s"))
REGISTRATION_CODE_INVALID = ErrorCode(
    "registration_code_invalid", InvalidInput, _("短信验证码错误或已过期")
)

# ---------------------------------------------------------------- signing in

ACCOUNT_LOCKED = ErrorCode(
    "account_locked", LockedOut, _("登录失败次数过多，账号已临时锁定，请稍后再试")
)
INVALID_CREDENTIALS = ErrorCode("invalid_credentials", AuthenticationFailed, _("用户名或密码错误"))
OTP_INVALID = ErrorCode(
    "otp_invalid",
    AuthenticationFailed,
    _("动态验证码错误或缺失（工作人员须使用双因素认证）"),
)
SMS_CODE_INVALID = ErrorCode("sms_code_invalid", AuthenticationFailed, _("验证码错误"))
SMS_CODE_EXPIRED = ErrorCode(
    "sms_code_expired", AuthenticationFailed, _("验证码已过期或未发送，请重新获取")
)
SMS_CODE_TOO_SOON = ErrorCode(
    "sms_code_too_soon", TooManyRequests, _("验证码发送过于频繁，请60秒后再试")
)
SMS_CODE_DAILY_LIMIT = ErrorCode(
    "sms_code_daily_limit",
    TooManyRequests,
    _("今日验证码发送次数已达上限，请明日再试或使用密码登录"),
)
