"""The offline licence file, the signed status list, and trust lists (export, import)."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.db import transaction

from tongban.core import clock
from tongban.core.audit import audit_record_append
from tongban.core.crypto import sm2_sign
from tongban.identity.selectors import Actor
from tongban.ledger import note as ledger_note
from tongban.ledger import selectors as ledger_selectors
from tongban.ledger import services as ledger_services

from .. import errors, keys
from ..canonical import CanonicalError, canonical_json
from ..models import (
    License,
    LicenseEventType,
    TrustedRegion,
)
from ..offline import (
    FILE_FORMAT,
    STATUS_LIST_FORMAT,
    TRUST_LIST_FORMAT,
    VerificationResult,
    license_file_verify,
    trust_anchors,
)
from ..selectors import (
    issuer_keys,
    license_by_identifier,
    license_for_holder,
    licenses_withdrawn,
    trusted_region_lists,
)
from .log import (
    LOG_NAME,
    ActorKind,
    log_event,
    log_facts,
    platform_key_id,
    region,
)


def _latest_checkpoint_covering(index: int) -> tuple[str, Any]:
    """The latest signed checkpoint if it covers leaf `index`; else a freshly published one."""
    text = ledger_selectors.latest_checkpoint(log_name=LOG_NAME)
    if text is not None:
        body, _ = ledger_note.note_parse(text)
        checkpoint = ledger_note.checkpoint_parse(body)
        if checkpoint.size > index:
            return text, checkpoint
    text = ledger_services.checkpoint_publish(log_name=LOG_NAME)
    body, _ = ledger_note.note_parse(text)
    return text, ledger_note.checkpoint_parse(body)


def license_file(license: License) -> bytes:
    """The offline licence file (JSON): data, signature, issue event, inclusion proof, signed
    checkpoint. Verifiable with `tongban license verify FILE --trust TRUSTLIST`."""
    note_text, checkpoint = _latest_checkpoint_covering(license.log_index)
    proof = ledger_selectors.inclusion_proof(
        log_name=LOG_NAME, index=license.log_index, size=checkpoint.size
    )
    facts = log_facts(LOG_NAME)
    document = {
        "format": FILE_FORMAT,
        "license": json.loads(license.data),
        "signature": {
            "algorithm": "SM2-SM3",
            "key_id": license.issuer_key.key_id,
            "issuer_code": license.issuer.code,
            "value": base64.b64encode(bytes.fromhex(license.signature)).decode("ascii"),
        },
        "log": {
            "name": LOG_NAME,
            "origin": checkpoint.origin,
            "hash_algorithm": facts.algorithm,
            "entry": license.log_entry,
            "index": license.log_index,
            "tree_size": checkpoint.size,
            "proof": [base64.b64encode(item).decode("ascii") for item in proof],
            "checkpoint": note_text,
        },
        "exported_at": clock.now().isoformat(timespec="seconds"),
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


@transaction.atomic
def license_export(*, actor: Actor, license_id: Any) -> tuple[License, bytes]:
    """The holder's offline file (may publish a checkpoint, hence a write)."""
    license = license_for_holder(actor=actor, license_id=license_id)
    return license, license_file(license)


def status_list_sign() -> dict[str, Any]:
    """The signed status list of this deployment: every licence not valid for a reason an
    offline verifier cannot see itself (revoked, suspended). Expiry is in the data."""
    rows = licenses_withdrawn()
    body = canonical_json(
        {
            "format": STATUS_LIST_FORMAT,
            "region": region()["code"],
            "generated_at": clock.now().isoformat(timespec="seconds"),
            "entries": [
                {
                    "identifier": identifier,
                    "status": status,
                    "since": changed.isoformat(timespec="seconds") if changed else "",
                }
                for identifier, status, changed in rows
            ],
        }
    ).decode("utf-8")
    signature = sm2_sign(keys.platform_private_key(), body.encode("utf-8"))
    return {
        "body": body,
        "key_id": platform_key_id(),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


@transaction.atomic
def trust_list_export() -> dict[str, Any]:
    """This deployment's trust list: its region, the issuers' public keys, the licence log's
    origin and verifier keys, the status-list key, and a freshly signed status list."""
    facts = log_facts(LOG_NAME)
    vkeys = ledger_selectors.log_verifier_keys(log_name=LOG_NAME)
    if not vkeys:  # the log's keys are made when it first signs a checkpoint
        ledger_services.checkpoint_publish(log_name=LOG_NAME)
        vkeys = ledger_selectors.log_verifier_keys(log_name=LOG_NAME)
    issuers = [
        {
            "key_id": key.key_id,
            "department_code": key.department.code,
            "department_name": key.department.name,
            "algorithm": "SM2-SM3",
            "public_key": key.public_key,
        }
        for key in issuer_keys()
    ]
    return {
        "format": TRUST_LIST_FORMAT,
        "region": region(),
        "generated_at": clock.now().isoformat(timespec="seconds"),
        "issuers": issuers,
        "logs": [
            {
                "name": LOG_NAME,
                "origin": facts.origin,
                "hash_algorithm": facts.algorithm,
                "region": region()["name"],
                "vkeys": vkeys,
            }
        ],
        "status_keys": [{"key_id": platform_key_id(), "public_key": keys.platform_public_key()}],
        "status_list": status_list_sign(),
    }


def trust_lists_all() -> list[dict[str, Any]]:
    """This deployment's trust list followed by every imported region's."""
    return [trust_list_export(), *trusted_region_lists()]


@transaction.atomic
def trust_list_import(*, actor: str, document: dict[str, Any]) -> TrustedRegion:
    """Import (or replace) another region's trust list (跨区域互认)."""
    try:
        trust_anchors(document)
        code = str(document["region"]["code"])
        name = str(document["region"].get("name", code))
    except (ValueError, KeyError, TypeError):
        raise errors.BAD_TRUST_LIST.error() from None
    if code == region()["code"]:
        raise errors.OWN_REGION.error()
    # Its logs join the ledger's trust list too, so this deployment can witness them.
    ledger_services.trust_list_load(data=document)
    row, _ = TrustedRegion.objects.update_or_create(
        region=code[:12],
        defaults={"name": name[:100], "trust_list": document, "imported_at": clock.now()},
    )
    audit_record_append(
        actor=actor, action="license.trust_list_import", object_type="region", object_id=code
    )
    return row


def license_file_check(*, file_bytes: bytes) -> VerificationResult:
    """Verify an uploaded licence file against this deployment's and the imported trust
    lists; a licence issued here also gets a verification event in the log."""
    result = license_file_verify(file_bytes, trust_lists_all())
    identifier = (result.license or {}).get("identifier")
    if result.code not in ("malformed_file", "bad_identifier") and isinstance(identifier, str):
        license = license_by_identifier(identifier)
        if license is not None:
            with transaction.atomic():
                log_event(license, LicenseEventType.VERIFICATION, ActorKind.PUBLIC)
    return result


def parse_json_upload(content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, CanonicalError):
        raise errors.BAD_JSON.error() from None
    if not isinstance(value, dict):
        raise errors.BAD_JSON.error()
    return value
