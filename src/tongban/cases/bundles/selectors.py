"""一件事 reads, always scoped to the applicant: a bundle case outside it is 'not found'."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tongban.core.ids import uuid_or_not_found

from .. import errors
from ..models import BundleCase, BundleCaseChild, Case, CaseTransition

# The applicant's 情形引导 answers are kept in the bundle case's form data under this key
# (no merged field can take it: merged names are element codes or item<n>__<field>).
SITUATION_KEY = "_situation"


def form_only(data: dict[str, Any]) -> dict[str, Any]:
    """The merged form's values of a bundle case (its situation answers left out)."""
    return {key: value for key, value in data.items() if key != SITUATION_KEY}


def situation_of(bundle_case: BundleCase) -> dict[str, str]:
    """The 情形引导 answers the bundle case was submitted with ({} for none)."""
    answers = bundle_case.form_data.get(SITUATION_KEY)
    return dict(answers) if isinstance(answers, dict) else {}


def child_items(bundle_case: BundleCase) -> set[int]:
    """The bundle items the bundle case has a child case for."""
    return set(
        BundleCaseChild.objects.filter(bundle_case=bundle_case).values_list(
            "bundle_item_id", flat=True
        )
    )


def case_outcomes(cases: list[Case]) -> dict[Any, set[str]]:
    """case id → the decisive actions taken on it (approve, deny, reject)."""
    outcomes: dict[Any, set[str]] = {case.pk: set() for case in cases}
    for case_id, action in CaseTransition.objects.filter(
        case__in=cases, action__in=["approve", "deny", "reject"]
    ).values_list("case_id", "action"):
        outcomes[case_id].add(action)
    return outcomes


def bundle_case_uuid(value: Any) -> Any:
    return uuid_or_not_found(value, errors.BUNDLE_CASE_NOT_FOUND)


def bundle_cases_for_applicant(*, user: Any) -> QuerySet[BundleCase]:
    return BundleCase.objects.filter(applicant=user).select_related("bundle")


def bundle_case_for_applicant(*, user: Any, bundle_case_id: Any) -> BundleCase:
    found = (
        bundle_cases_for_applicant(user=user).filter(pk=bundle_case_uuid(bundle_case_id)).first()
        if user is not None and getattr(user, "is_authenticated", False)
        else None
    )
    if found is None:
        raise errors.BUNDLE_CASE_NOT_FOUND.error()
    return found


def bundle_labels(*, case_ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """case id → {bundle name, bundle case id, position}: to mark child cases in queues."""
    return {
        case_id: {"name": name, "bundle_case_id": bundle_case_id, "position": position}
        for case_id, name, bundle_case_id, position in BundleCaseChild.objects.filter(
            case_id__in=case_ids
        ).values_list("case_id", "bundle_case__bundle__name", "bundle_case_id", "position")
    }
