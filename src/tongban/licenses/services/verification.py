"""验证与亮证: online verification (logged) and short-lived signed presentations (QR)."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop

from tongban.core import clock
from tongban.core.crypto import sm2_sign, sm3_hex
from tongban.identity.selectors import Actor
from tongban.ledger import merkle
from tongban.ledger import selectors as ledger_selectors

from .. import errors, keys, presenters
from ..canonical import canonical_json
from ..models import (
    License,
    LicenseEventType,
    LicenseStatus,
)
from ..offline import (
    FAILURES,
    OK_MESSAGE,
    Check,
    VerificationResult,
    signature_valid,
)
from ..selectors import license_by_identifier, license_for_holder
from .log import (
    LOG_NAME,
    PRESENTATION_FORMAT,
    PRESENTATION_MAX_SECONDS,
    ActorKind,
    log_event,
    log_facts,
    platform_key_id,
)


def _online_checks(license: License) -> tuple[str, list[Check]]:
    """The checks of a licence held here: signature, inclusion in the log, status, validity."""
    checks: list[Check] = []
    data_bytes = license.data.encode("utf-8")
    logged_digest = json.loads(license.log_entry).get("digest")
    if sm3_hex(data_bytes) != logged_digest:
        return "tampered", [Check("digest", False, "tampered")]
    checks.append(Check("digest", True, detail=license.data_digest[:16]))
    if not signature_valid(
        license.issuer_key.public_key, data_bytes, bytes.fromhex(license.signature)
    ):
        return "wrong_key", [*checks, Check("signature", False, "wrong_key")]
    checks.append(Check("signature", True, detail=license.issuer_key.key_id))
    facts = log_facts(LOG_NAME)
    head = ledger_selectors.tree_head(log_name=LOG_NAME)
    proof = ledger_selectors.inclusion_proof(
        log_name=LOG_NAME, index=license.log_index, size=head.size
    )
    leaf = merkle.leaf_hash(facts.algorithm, license.log_entry.encode("utf-8"))
    if not merkle.verify_inclusion(
        facts.algorithm, leaf, license.log_index, head.size, proof, head.root_hash
    ):
        return "bad_proof", [*checks, Check("inclusion", False, "bad_proof")]
    checks.append(Check("inclusion", True, detail=f"leaf {license.log_index} of {head.size}"))
    if license.status == LicenseStatus.REVOKED:
        return "revoked", [*checks, Check("status", False, "revoked")]
    if license.status == LicenseStatus.SUSPENDED:
        return "suspended", [*checks, Check("status", False, "suspended")]
    if license.status == LicenseStatus.EXPIRED or (
        license.valid_until is not None and license.valid_until < clock.today()
    ):
        return "expired", [*checks, Check("validity", False, "expired")]
    checks.append(Check("status", True))
    return "ok", checks


@transaction.atomic
def license_verify(*, license: License, actor_kind: str = ActorKind.PUBLIC) -> VerificationResult:
    """Online verification of a licence held here; the verification is a log event."""
    code, checks = _online_checks(license)
    log_event(license, LicenseEventType.VERIFICATION, actor_kind)
    return VerificationResult(
        code == "ok",
        code,
        OK_MESSAGE if code == "ok" else FAILURES[code],
        tuple(checks),
        presenters.license_public(license),
    )


# ---- presentations (亮证) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Presentation:
    token: str
    expires_at: datetime
    nonce: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@transaction.atomic
def license_present(*, actor: Actor, license_id: Any) -> Presentation:
    """A short-lived presentation signed by the platform: licence identifier, expiry (at most
    five minutes), nonce. Only the holder (or an enterprise's agent) may present; using a
    licence is a log event."""
    license = license_for_holder(actor=actor, license_id=license_id)
    if license.status != LicenseStatus.VALID or (
        license.valid_until is not None and license.valid_until < clock.today()
    ):
        raise errors.LICENSE_NOT_USABLE.error(status=license.get_status_display())
    now = clock.now()
    lifetime = min(
        int(settings.TONGBAN.get("LICENSE_PRESENTATION_SECONDS", PRESENTATION_MAX_SECONDS)),
        PRESENTATION_MAX_SECONDS,
    )
    issued_at = int(now.timestamp())
    nonce = secrets.token_hex(16)
    payload = canonical_json(
        {
            "format": PRESENTATION_FORMAT,
            "license": license.identifier,
            "issued_at": issued_at,
            "expires_at": issued_at + lifetime,
            "nonce": nonce,
            "key_id": platform_key_id(),
        }
    )
    signature = sm2_sign(keys.platform_private_key(), payload)
    log_event(license, LicenseEventType.USE, ActorKind.HOLDER)
    return Presentation(
        token=f"{_b64url(payload)}.{_b64url(signature)}",
        expires_at=now + timedelta(seconds=lifetime),
        nonce=nonce,
    )


def _presentation_failure(code: str, message: str) -> VerificationResult:
    return VerificationResult(False, code, message, (Check("presentation", False, code),))


def presentation_verify(*, token: str) -> VerificationResult:
    """Check a presentation token (signature, expiry), then the licence online."""
    try:
        payload_text, signature_text = token.strip().split(".")
        payload = _b64url_decode(payload_text)
        signature = _b64url_decode(signature_text)
        claims = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return _presentation_failure("bad_presentation", gettext_noop("亮证码无效：格式不正确"))
    if not signature_valid(keys.platform_public_key(), payload, signature) or not isinstance(
        claims, dict
    ):
        return _presentation_failure("bad_presentation", gettext_noop("亮证码无效：签名不正确"))
    expires_at = claims.get("expires_at")
    issued_at = claims.get("issued_at")
    if (
        claims.get("format") != PRESENTATION_FORMAT
        or not isinstance(expires_at, int)
        or not isinstance(issued_at, int)
        or expires_at - issued_at > PRESENTATION_MAX_SECONDS
    ):
        return _presentation_failure("bad_presentation", gettext_noop("亮证码无效：内容不正确"))
    if clock.now().timestamp() > expires_at:
        return _presentation_failure(
            "presentation_expired", gettext_noop("亮证码已过期，请持证人重新出示")
        )
    identifier = claims.get("license")
    license = license_by_identifier(identifier) if isinstance(identifier, str) else None
    if license is None:
        return _presentation_failure("license_not_found", gettext_noop("证照不存在"))
    return license_verify(license=license, actor_kind=ActorKind.PUBLIC)
