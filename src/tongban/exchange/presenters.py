"""Exchange objects as plain dicts for the API and templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import (
    AlertRule,
    ClassificationLevel,
    Consent,
    DataElement,
    DataUseRecord,
    Grant,
    LookupKind,
    LookupOutcome,
    SecurityAlert,
)
from .prefill import PrefillResult


def element(element: DataElement) -> dict[str, Any]:
    registry = element.registry
    return {
        "code": element.code,
        "name": element.name,
        "registry": registry.code,
        "registry_name": registry.name,
        "owner_department": registry.department.name,
        "owner_department_code": registry.department.code,
        "level": element.level,
        "level_label": ClassificationLevel(element.level).label,
        "masked_by_default": element.level != ClassificationLevel.GENERAL
        and bool(element.mask_kind),
        "freshness_hours": element.freshness_hours,
    }


def grant(grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.pk,
        "department": grant.department.name,
        "registry": grant.registry.name,
        "owner_department": grant.registry.department.name,
        "purpose": grant.purpose,
        "elements": grant.elements,
        "plain_elements": grant.plain_elements,
        "reason": grant.reason,
        "status": grant.status,
        "requested_at": grant.requested_at,
        "decided_at": grant.decided_at,
        "decision_note": grant.decision_note,
        "expires_at": grant.expires_at,
    }


def consent(consent: Consent, now: datetime) -> dict[str, Any]:
    return {
        "id": consent.pk,
        "purpose": consent.purpose,
        "elements": consent.elements,
        "given_at": consent.given_at,
        "expires_at": consent.expires_at,
        "revoked_at": consent.revoked_at,
        "is_active": consent.revoked_at is None and consent.expires_at > now,
    }


def data_use(record: DataUseRecord, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": record.pk,
        "occurred_at": record.occurred_at,
        "kind": record.kind,
        "kind_label": LookupKind(record.kind).label,
        "department": record.department.name if record.department else "",
        "registry": record.registry.name if record.registry else "",
        "elements": record.elements,
        "element_names": [names.get(code, code) for code in record.elements],
        "purpose": record.purpose,
        "case_number": record.case_number,
        "outcome": record.outcome,
        "outcome_label": LookupOutcome(record.outcome).label,
        "refusal_message": record.refusal_message,
    }


def alert(alert: SecurityAlert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "rule": alert.rule,
        "rule_label": AlertRule(alert.rule).label,
        "caller": alert.caller,
        "department": alert.department.name if alert.department else "",
        "raised_at": alert.raised_at,
        "evidence": alert.evidence,
        "acknowledged_at": alert.acknowledged_at,
    }


def prefill(result: PrefillResult) -> dict[str, Any]:
    return {
        "values": result.values,
        "verified_fields": result.verified_fields,
        "derived_materials": [
            {"code": m.code, "name": m.name, "registry": m.registry}
            for m in result.derived.values()
        ],
        "unavailable": result.unavailable,
    }
