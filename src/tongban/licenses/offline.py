"""Offline verification of an exported licence file (pure: no database, no Django settings).

`license_file_verify(file_bytes, trust_list)` checks, with nothing but the trust list:
1. the file's shape and the licence identifier's check character (GB/T 36904);
2. the issuer's key: the file names a key id that the trust list must list for the issuer;
3. the log's signed checkpoint, with the log keys (vkeys) the trust list gives for its origin;
4. the inclusion proof of the licence's issue event (存证) against the checkpoint's root;
5. that the proven event's digest is the digest of the licence data (else: tampered);
6. the SM2 signature of the licence data with the issuer's key (else: wrong key);
7. the signed status list carried by the trust list (revoked / suspended), when present;
8. the validity dates (expired).

Every failure has its own English code and Chinese message; `VerificationResult.code` is the
most serious one. File and trust-list formats are described in ADR 0010.

The messages are marked for the app's catalog but not translated here (no Django settings
offline): the pages and the API translate a verdict where they show it
(presenters.verification); the command line prints them in Chinese.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tongban.core.crypto import sm2_verify, sm3_hex
from tongban.ledger import merkle, note

from .canonical import CanonicalError, canonical_json
from .identifiers import IdentifierError, identifier_parse

FILE_FORMAT = "tongban-license-file/1"
TRUST_LIST_FORMAT = "tongban-trust-list/1"
STATUS_LIST_FORMAT = "tongban-license-status/1"
LOG_ENTRY_FORMAT = "tongban-license-event/1"
LOCAL_TIME_ZONE = ZoneInfo("Asia/Shanghai")


def gettext_noop(message: str) -> str:
    """Marks `message` for makemessages and returns it as it is (this module never translates:
    it runs without Django settings)."""
    return message


# code → Chinese message; ordered from the most to the least serious.
FAILURES: dict[str, str] = {
    "malformed_file": gettext_noop("文件不是有效的电子证照文件"),
    "bad_identifier": gettext_noop("证照标识的校验位不正确"),
    "malformed_trust_list": gettext_noop("信任列表格式不正确"),
    "unknown_key": gettext_noop("签发机关的公钥不在信任列表中（未知密钥）"),
    "bad_checkpoint": gettext_noop("存证日志的签名树头无效，或该日志不在信任列表中"),
    "bad_proof": gettext_noop("存证包含证明无效：证照签发记录不在已签名的日志中"),
    "tampered": gettext_noop("证照内容已被篡改：与存证记录的摘要不一致"),
    "wrong_key": gettext_noop("签名与信任列表中该签发机关的公钥不符（密钥错误）"),
    "bad_status_list": gettext_noop("证照状态清单的签名无效"),
    "revoked": gettext_noop("证照已被吊销（废止）"),
    "suspended": gettext_noop("证照已暂停使用"),
    "expired": gettext_noop("证照已超过有效期"),
    "not_yet_valid": gettext_noop("证照尚未生效"),
}
OK_MESSAGE = gettext_noop("证照真实有效")
NO_STATUS_LIST_NOTE = gettext_noop("信任列表未附证照状态清单，无法离线确认是否已被吊销")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    code: str = "ok"
    detail: str = ""


@dataclass(frozen=True)
class VerificationResult:
    ok: bool
    code: str
    message: str
    checks: tuple[Check, ...] = ()
    license: dict[str, Any] | None = None
    status_list_generated_at: str | None = None
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """Plain text for the command line: the verdict, then each check."""
        lines = [f"{'通过' if self.ok else '未通过'}: {self.message} ({self.code})"]
        if self.license:
            lines.append(
                f"  证照: {self.license.get('type_name', '')} {self.license.get('identifier', '')}"
            )
        for check in self.checks:
            mark = "✓" if check.ok else "✗"
            suffix = f" — {check.detail}" if check.detail else ""
            lines.append(f"  {mark} {check.name}: {check.code}{suffix}")
        lines.extend(f"  注: {text}" for text in self.notes)
        return "\n".join(lines)


def signature_valid(public_hex: str, data: bytes, signature: bytes) -> bool:
    """sm2_verify, with gmssl's internal errors on odd keys (see keys.py) read as 'invalid'."""
    try:
        return sm2_verify(public_hex, data, signature)
    except (TypeError, ValueError):
        return False


class _Failed(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _Failed("malformed_file", "expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Failed("malformed_file", "bad base64") from None


def _text(mapping: Mapping[str, Any], key: str, code: str = "malformed_file") -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise _Failed(code, f"missing {key}")
    return value


def _integer(mapping: Mapping[str, Any], key: str) -> int:
    value = mapping.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Failed("malformed_file", f"missing {key}")
    return value


@dataclass(frozen=True)
class TrustAnchors:
    """Everything the trust list(s) vouch for, merged."""

    issuer_keys: dict[str, dict[str, str]]  # key_id → {"public_key", "department_code", ...}
    logs: dict[str, dict[str, Any]]  # origin → {"hash_algorithm", "vkeys", ...}
    status_keys: dict[str, str]  # key_id → public key
    status_lists: tuple[Mapping[str, Any], ...]


def trust_anchors(trust_lists: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> TrustAnchors:
    """Merge one trust list or several (this region's and imported ones); ValueError when one
    is not a trust list."""
    lists = [trust_lists] if isinstance(trust_lists, Mapping) else list(trust_lists)
    issuers: dict[str, dict[str, str]] = {}
    logs: dict[str, dict[str, Any]] = {}
    status_keys: dict[str, str] = {}
    status_lists: list[Mapping[str, Any]] = []
    for trust_list in lists:
        if not isinstance(trust_list, Mapping) or trust_list.get("format") != TRUST_LIST_FORMAT:
            raise ValueError(f"not a {TRUST_LIST_FORMAT} document")
        for issuer in trust_list.get("issuers") or []:
            if isinstance(issuer, Mapping) and isinstance(issuer.get("key_id"), str):
                issuers[issuer["key_id"]] = {k: str(v) for k, v in issuer.items()}
        for log in trust_list.get("logs") or []:
            if isinstance(log, Mapping) and isinstance(log.get("origin"), str):
                logs[log["origin"]] = dict(log)
        for key in trust_list.get("status_keys") or []:
            if isinstance(key, Mapping) and isinstance(key.get("key_id"), str):
                status_keys[key["key_id"]] = str(key.get("public_key", ""))
        if isinstance(trust_list.get("status_list"), Mapping):
            status_lists.append(trust_list["status_list"])
    return TrustAnchors(issuers, logs, status_keys, tuple(status_lists))


def status_list_open(
    status_list: Mapping[str, Any], status_keys: Mapping[str, str]
) -> dict[str, Any]:
    """The body of a signed status list, after checking its SM2 signature; ValueError if bad."""
    try:
        body_text = status_list["body"]
        signature = base64.b64decode(status_list["signature"], validate=True)
        public_key = status_keys[status_list["key_id"]]
    except (KeyError, TypeError, binascii.Error, ValueError):
        raise ValueError("status list is malformed or signed by an unknown key") from None
    if not isinstance(body_text, str) or not signature_valid(
        public_key, body_text.encode("utf-8"), signature
    ):
        raise ValueError("status list signature does not verify")
    body = json.loads(body_text)
    if not isinstance(body, dict) or body.get("format") != STATUS_LIST_FORMAT:
        raise ValueError("not a status list")
    return body


def license_file_verify(
    file_bytes: bytes,
    trust_list: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    *,
    today: date | None = None,
) -> VerificationResult:
    """Verify an exported licence file against a trust list (see the module docstring)."""
    today = today or datetime.now(LOCAL_TIME_ZONE).date()
    checks: list[Check] = []
    notes: list[str] = []
    data: dict[str, Any] | None = None
    status_generated_at: str | None = None

    def fail(error: _Failed) -> VerificationResult:
        checks.append(Check(error.code, False, error.code, error.detail))
        return VerificationResult(
            False,
            error.code,
            FAILURES[error.code],
            tuple(checks),
            data,
            status_generated_at,
            tuple(notes),
        )

    try:
        try:
            anchors = trust_anchors(trust_list)
        except ValueError as error:
            raise _Failed("malformed_trust_list", str(error)) from None
        try:
            document = json.loads(file_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _Failed("malformed_file", "not UTF-8 JSON") from None
        if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
            raise _Failed("malformed_file", f"not a {FILE_FORMAT} document")
        license_data, signature, log = (
            document.get("license"),
            document.get("signature"),
            document.get("log"),
        )
        if not (
            isinstance(license_data, dict) and isinstance(signature, dict) and isinstance(log, dict)
        ):
            raise _Failed("malformed_file", "license, signature and log are required")
        data = license_data
        try:
            data_bytes = canonical_json(license_data)
        except CanonicalError as error:
            raise _Failed("malformed_file", str(error)) from None
        identifier = _text(license_data, "identifier")
        try:
            parsed = identifier_parse(identifier)
        except IdentifierError as error:
            raise _Failed("bad_identifier", str(error)) from None
        checks.append(Check("identifier", True))

        # The issuer's key, as the trust list knows it.
        key_id = _text(signature, "key_id")
        issuer = anchors.issuer_keys.get(key_id)
        issuer_code = _text(license_data, "issuer_code")
        if issuer is None:
            raise _Failed("unknown_key", f"key {key_id} is not in the trust list")
        if issuer.get("department_code") != issuer_code or parsed.issuer_code != issuer_code:
            raise _Failed("wrong_key", f"key {key_id} belongs to another issuer")
        checks.append(Check("issuer_key", True, detail=key_id))

        # The signed checkpoint, with the log's keys from the trust list.
        origin = _text(log, "origin")
        trusted_log = anchors.logs.get(origin)
        if trusted_log is None:
            raise _Failed("bad_checkpoint", f"log {origin!r} is not in the trust list")
        algorithm = str(trusted_log.get("hash_algorithm", "sm3"))
        try:
            verifiers = [note.verifier_from_vkey(v) for v in trusted_log.get("vkeys") or []]
            checkpoint = note.checkpoint_open(_text(log, "checkpoint"), verifiers, origin)
        except (note.NoteError, ValueError, TypeError) as error:
            raise _Failed("bad_checkpoint", str(error)) from None
        checks.append(Check("checkpoint", True, detail=f"{origin} size {checkpoint.size}"))

        # The issue event is in the tree the checkpoint commits to.
        entry_text = _text(log, "entry")
        entry_bytes = entry_text.encode("utf-8")
        proof = [_b64(item) for item in log.get("proof") or []]
        index = _integer(log, "index")
        if not merkle.verify_inclusion(
            algorithm,
            merkle.leaf_hash(algorithm, entry_bytes),
            index,
            checkpoint.size,
            proof,
            checkpoint.root_hash,
        ):
            raise _Failed("bad_proof", f"leaf {index} not proven in tree size {checkpoint.size}")
        try:
            entry = json.loads(entry_text)
        except ValueError:
            raise _Failed("bad_proof", "log entry is not JSON") from None
        if (
            not isinstance(entry, dict)
            or entry.get("format") != LOG_ENTRY_FORMAT
            or entry.get("event") != "issue"
            or entry.get("license") != identifier
        ):
            raise _Failed("bad_proof", "the proven log entry is not this licence's issue event")
        checks.append(Check("inclusion", True, detail=f"leaf {index}"))

        # The data is what was logged at issuance, and the issuer signed it.
        digest = sm3_hex(data_bytes)
        if entry.get("digest") != digest:
            raise _Failed("tampered", "licence data differs from the logged digest")
        checks.append(Check("digest", True, detail=digest[:16]))
        if not signature_valid(issuer["public_key"], data_bytes, _b64(signature.get("value"))):
            raise _Failed("wrong_key", f"signature does not verify with key {key_id}")
        checks.append(Check("signature", True))

        # Status: only a signed status list can say a licence was revoked after export.
        listed_status = None
        for status_list in anchors.status_lists:
            try:
                body = status_list_open(status_list, anchors.status_keys)
            except ValueError as error:
                raise _Failed("bad_status_list", str(error)) from None
            status_generated_at = str(body.get("generated_at", ""))
            for row in body.get("entries") or []:
                if isinstance(row, dict) and row.get("identifier") == identifier:
                    listed_status = row.get("status")
        if not anchors.status_lists:
            notes.append(NO_STATUS_LIST_NOTE)
        if listed_status == "revoked":
            raise _Failed("revoked", f"status list of {status_generated_at}")
        if listed_status == "suspended":
            raise _Failed("suspended", f"status list of {status_generated_at}")
        checks.append(Check("status", True, detail=status_generated_at or "unknown"))

        valid_from, valid_until = license_data.get("valid_from"), license_data.get("valid_until")
        try:
            if valid_from and date.fromisoformat(str(valid_from)) > today:
                raise _Failed("not_yet_valid", str(valid_from))
            if valid_until and date.fromisoformat(str(valid_until)) < today:
                raise _Failed("expired", str(valid_until))
        except ValueError:
            raise _Failed("malformed_file", "validity dates are not ISO dates") from None
        checks.append(Check("validity", True, detail=str(valid_until or "长期")))
    except _Failed as error:
        return fail(error)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        # Untrusted input of a shape no check above foresaw: never a crash, always a verdict.
        return fail(_Failed("malformed_file", type(error).__name__))
    return VerificationResult(
        True, "ok", OK_MESSAGE, tuple(checks), data, status_generated_at, tuple(notes)
    )
