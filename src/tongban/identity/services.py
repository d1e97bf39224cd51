"""Accounts and logins. Every write is atomic; every login attempt is audited."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append
from tongban.core.crypto import keyed_sm3_hex
from tongban.core.errors import DomainError, InvalidInput, NotFound
from tongban.core.ids import validate_resident_id, validate_uscc
from tongban.core.masking import mask
from tongban.core.models import Division

from .models import (
    ApiToken,
    Citizen,
    Department,
    Enterprise,
    EnterpriseAgent,
    OneTimeCode,
    StaffMember,
    StaffRole,
)
from .selectors import USER_RELATIONS
from .sms import send_sms

PHONE_LENGTH = 11


class AuthenticationFailed(DomainError):
    status = 401


class LockedOut(DomainError):
    status = 429


class TooManyRequests(DomainError):
    status = 429


SMS_CODES_PER_DAY = 10


def _secret_digest(value: str) -> str:
    return keyed_sm3_hex(settings.SECRET_KEY.encode(), value.encode())


def validate_phone(phone: str) -> str:
    phone = phone.strip()
    if len(phone) != PHONE_LENGTH or not phone.isdigit() or not phone.startswith("1"):
        raise InvalidInput("phone_format", "手机号码应为以1开头的11位数字")
    return phone


@transaction.atomic
def citizen_register(
    *, real_name: str, id_number: str, phone: str, password: str | None = None
) -> Citizen:
    """Create a real-name citizen account; the username is the phone number."""
    id_number = validate_resident_id(id_number)
    phone = validate_phone(phone)
    real_name = real_name.strip()
    if not real_name:
        raise InvalidInput("name_required", "请填写姓名")
    if Citizen.objects.filter(id_number=id_number).exists():
        raise InvalidInput("id_number_taken", "该身份证号码已注册")
    user_model = get_user_model()
    if user_model.objects.filter(username=phone).exists():
        raise InvalidInput("phone_taken", "该手机号码已注册")
    user = user_model.objects.create_user(username=phone, password=password)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    citizen = Citizen.objects.create(
        user=user, real_name=real_name, id_number=id_number, phone=phone
    )
    audit_record_append(
        actor=f"citizen:{user.pk}",
        action="citizen.register",
        object_type="citizen",
        object_id=str(citizen.pk),
    )
    return citizen


@transaction.atomic
def enterprise_register(
    *, uscc: str, name: str, legal_representative: str, agent: Citizen
) -> Enterprise:
    uscc = validate_uscc(uscc)
    if Enterprise.objects.filter(uscc=uscc).exists():
        raise InvalidInput("uscc_taken", "该统一社会信用代码已登记")
    enterprise = Enterprise.objects.create(
        uscc=uscc, name=name.strip(), legal_representative=legal_representative.strip()
    )
    EnterpriseAgent.objects.create(enterprise=enterprise, citizen=agent)
    return enterprise


@transaction.atomic
def department_create(*, code: str, name: str, division_code: str) -> Department:
    code = validate_uscc(code)
    division = Division.objects.filter(code=division_code).first()
    if division is None:
        raise NotFound("division_not_found", f"区划 {division_code} 不存在")
    department, _ = Department.objects.update_or_create(
        code=code, defaults={"name": name, "division": division}
    )
    return department


@transaction.atomic
def staff_create(
    *,
    username: str,
    password: str,
    real_name: str,
    department: Department,
    scope: Division,
    roles: list[str],
    totp_key: str | None = None,
    is_superuser: bool = False,
) -> StaffMember:
    """Create a staff account with a confirmed TOTP device (staff sign-in needs both)."""
    if not department.division.contains(scope.code):
        raise InvalidInput(
            "scope_outside_department", "工作人员管辖区划须为部门所在区划或其下级区划"
        )
    user_model = get_user_model()
    user = user_model.objects.create_user(
        username=username,
        password=password,
        is_staff=StaffRole.ADMIN in roles or is_superuser,
        is_superuser=is_superuser,
    )
    member = StaffMember.objects.create(
        user=user, real_name=real_name, department=department, scope=scope, roles=roles
    )
    TOTPDevice.objects.create(
        user=user, name="default", confirmed=True, **({"key": totp_key} if totp_key else {})
    )
    return member


def _lockout_check(request: HttpRequest | None, username: str) -> None:
    if request is not None and getattr(request, "axes_locked_out", False):
        audit_record_append(
            actor=f"login:{mask(username, 'phone')}",
            action="login",
            outcome=Outcome.DENIED,
            detail={"reason": "locked_out"},
        )
        raise LockedOut("account_locked", "登录失败次数过多，账号已临时锁定，请稍后再试")


def password_login(
    *, request: HttpRequest, username: str, password: str, otp_token: str | None = None
) -> User:
    """Check password (and TOTP for staff). Failed attempts count towards the lockout."""
    user = authenticate(request, username=username, password=password)
    _lockout_check(request, username)
    assert user is None or isinstance(user, User)
    if user is None:
        audit_record_append(
            actor=f"login:{_secret_digest(username)[:16]}",
            action="login",
            outcome=Outcome.FAILURE,
            detail={"reason": "bad_credentials"},
        )
        raise AuthenticationFailed("invalid_credentials", "用户名或密码错误")
    if StaffMember.objects.filter(user=user).exists() or user.is_staff:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None or not otp_token or not device.verify_token(otp_token.strip()):
            _record_failure(request, username)
            audit_record_append(
                actor=f"staff:{user.pk}",
                action="login",
                outcome=Outcome.FAILURE,
                detail={"reason": "otp"},
            )
            raise AuthenticationFailed(
                "otp_invalid", "动态验证码错误或缺失（工作人员须使用双因素认证）"
            )
    audit_record_append(actor=f"user:{user.pk}", action="login", detail={"method": "password"})
    return user


def _record_failure(request: HttpRequest, username: str) -> None:
    """Count a failed second factor against the lockout like a failed password."""
    # django-axes counts failures through Django's own signal.
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


class CodePurpose:
    LOGIN = "login"
    REGISTER = "register"


_SMS_TEXT = {
    CodePurpose.LOGIN: "【通办】您的登录验证码是 {code}，5分钟内有效，请勿告诉他人。",
    CodePurpose.REGISTER: "【通办】您正在注册通办账号，验证码 {code}，5分钟内有效，请勿告诉他人。",
}


@transaction.atomic
def sms_code_send(*, phone: str, purpose: str = CodePurpose.LOGIN) -> None:
    """Send a one-time code. One per minute and ten a day per number (no SMS bombing).

    A login code goes only to a registered number and a registration code only to a new one;
    either way the caller gets the same answer (no account enumeration).
    """
    phone = validate_phone(phone)
    now = clock.now()
    recent = OneTimeCode.objects.filter(phone=phone, created_at__gte=now - timedelta(days=1))
    if recent.filter(created_at__gte=now - timedelta(seconds=60)).exists():
        raise TooManyRequests("sms_code_too_soon", "验证码发送过于频繁，请60秒后再试")
    if recent.count() >= SMS_CODES_PER_DAY:
        raise TooManyRequests(
            "sms_code_daily_limit", "今日验证码发送次数已达上限，请明日再试或使用密码登录"
        )
    code = f"{secrets.randbelow(10**6):06d}"
    OneTimeCode.objects.filter(phone=phone, used=False).update(used=True)
    OneTimeCode.objects.create(
        created_at=now,
        phone=phone,
        purpose=purpose,
        code_hash=_secret_digest(phone + ":" + code),
        expires_at=now + timedelta(seconds=settings.TONGBAN["SMS_CODE_SECONDS"]),
    )
    registered = Citizen.objects.filter(phone=phone).exists()
    if registered != (purpose == CodePurpose.LOGIN):
        return
    text = _SMS_TEXT[purpose].format(code=code)
    transaction.on_commit(lambda: send_sms(phone, text))


@transaction.atomic
def _code_check(phone: str, code: str, purpose: str) -> str:
    """Consume one attempt; 'ok', 'expired' or 'invalid'. Commits even when the code is wrong,
    so wrong attempts count and a code dies after TONGBAN["SMS_CODE_ATTEMPTS"] of them."""
    entry = (
        OneTimeCode.objects.select_for_update()
        .filter(phone=phone, purpose=purpose, used=False)
        .order_by("-id")
        .first()
    )
    if entry is None or entry.expires_at < clock.now():
        return "expired"
    entry.attempts += 1
    matches = hmac.compare_digest(entry.code_hash, _secret_digest(phone + ":" + code.strip()))
    entry.used = matches or entry.attempts >= settings.TONGBAN["SMS_CODE_ATTEMPTS"]
    entry.save(update_fields=["attempts", "used"])
    return "ok" if matches else "invalid"


def sms_code_login(*, phone: str, code: str) -> User:
    phone = validate_phone(phone)
    outcome = _code_check(phone, code, CodePurpose.LOGIN)
    citizen = Citizen.objects.select_related("user").filter(phone=phone).first()
    actor = f"citizen:{citizen.user_id}" if citizen else f"login:{_secret_digest(phone)[:16]}"
    if outcome != "ok" or citizen is None:
        audit_record_append(
            actor=actor,
            action="login",
            outcome=Outcome.FAILURE,
            detail={"method": "sms", "reason": outcome},
        )
        if outcome == "invalid":
            raise AuthenticationFailed("sms_code_invalid", "验证码错误")
        raise AuthenticationFailed("sms_code_expired", "验证码已过期或未发送，请重新获取")
    audit_record_append(actor=actor, action="login", detail={"method": "sms"})
    return citizen.user


def citizen_sign_up(
    *, real_name: str, id_number: str, phone: str, password: str, code: str
) -> Citizen:
    """实名注册: the phone is proven by an SMS code, the ID number checked (GB 11643).

    Everything else is checked first, so a typo does not use up the code.
    """
    phone = validate_phone(phone)
    id_number = validate_resident_id(id_number)
    if not real_name.strip():
        raise InvalidInput("name_required", "请填写姓名", fields={"real_name": "请填写姓名"})
    if (
        Citizen.objects.filter(id_number=id_number).exists()
        or Citizen.objects.filter(phone=phone).exists()
    ):
        raise InvalidInput("already_registered", "该身份证号码或手机号码已注册，请直接登录")
    validate_password(password)
    if _code_check(phone, code, CodePurpose.REGISTER) != "ok":
        raise InvalidInput(
            "sms_code_invalid", "短信验证码错误或已过期", fields={"code": "验证码错误或已过期"}
        )
    return citizen_register(
        real_name=real_name, id_number=id_number, phone=phone, password=password
    )


def validate_password(password: str) -> None:
    from django.contrib.auth.password_validation import validate_password as django_validate
    from django.core.exceptions import ValidationError

    try:
        django_validate(password)
    except ValidationError as error:
        raise InvalidInput(
            "password_weak",
            "密码强度不足：" + "；".join(error.messages),
            fields={"password": "密码强度不足"},
        ) from error


@transaction.atomic
def api_token_issue(*, user: User) -> tuple[str, ApiToken]:
    raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        token_hash=_secret_digest(raw),
        expires_at=clock.now() + timedelta(seconds=settings.TONGBAN["API_TOKEN_SECONDS"]),
    )
    return raw, token


def api_token_user(raw: str) -> User | None:
    relations = ["user"] + [f"user__{path}" for path in USER_RELATIONS]
    token = (
        ApiToken.objects.select_related(*relations).filter(token_hash=_secret_digest(raw)).first()
    )
    if token is None or token.expires_at < clock.now() or not token.user.is_active:
        return None
    return token.user
