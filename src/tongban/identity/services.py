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
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from tongban.core import clock
from tongban.core.audit import Outcome, audit_record_append
from tongban.core.crypto import keyed_sm3_hex
from tongban.core.ids import validate_resident_id, validate_uscc
from tongban.core.masking import mask
from tongban.core.models import Division

from . import errors
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


SMS_CODES_PER_DAY = 10


def _secret_digest(value: str) -> str:
    return keyed_sm3_hex(settings.SECRET_KEY.encode(), value.encode())


def validate_phone(phone: str) -> str:
    phone = phone.strip()
    if len(phone) != PHONE_LENGTH or not phone.isdigit() or not phone.startswith("1"):
        raise errors.PHONE_FORMAT.error()
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
        raise errors.NAME_REQUIRED.error()
    if Citizen.objects.filter(id_number=id_number).exists():
        raise errors.ID_NUMBER_TAKEN.error()
    user_model = get_user_model()
    if user_model.objects.filter(username=phone).exists():
        raise errors.PHONE_TAKEN.error()
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
        raise errors.USCC_TAKEN.error()
    enterprise = Enterprise.objects.create(
        uscc=uscc, name=name.strip(), legal_representative=legal_representative.strip()
    )
    EnterpriseAgent.objects.create(enterprise=enterprise, citizen=agent)
    return enterprise


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
        raise errors.SCOPE_OUTSIDE_DEPARTMENT.error()
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
        raise errors.ACCOUNT_LOCKED.error()


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
        raise errors.INVALID_CREDENTIALS.error()
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
            raise errors.OTP_INVALID.error()
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
        raise errors.SMS_CODE_TOO_SOON.error()
    if recent.count() >= SMS_CODES_PER_DAY:
        raise errors.SMS_CODE_DAILY_LIMIT.error()
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
            raise errors.SMS_CODE_INVALID.error()
        raise errors.SMS_CODE_EXPIRED.error()
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
        raise errors.NAME_REQUIRED.error(fields={"real_name": _("请填写姓名")})
    if (
        Citizen.objects.filter(id_number=id_number).exists()
        or Citizen.objects.filter(phone=phone).exists()
    ):
        raise errors.ALREADY_REGISTERED.error()
    validate_password(password)
    if _code_check(phone, code, CodePurpose.REGISTER) != "ok":
        raise errors.REGISTRATION_CODE_INVALID.error(fields={"code": _("验证码错误或已过期")})
    return citizen_register(
        real_name=real_name, id_number=id_number, phone=phone, password=password
    )


def validate_password(password: str) -> None:
    from django.contrib.auth.password_validation import validate_password as django_validate
    from django.core.exceptions import ValidationError

    try:
        django_validate(password)
    except ValidationError as error:
        raise errors.PASSWORD_WEAK.error(
            reasons=_("；").join(error.messages), fields={"password": _("密码强度不足")}
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
