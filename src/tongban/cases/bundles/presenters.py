"""一件事 for display: the applicant's view of a bundle case, its children and one timeline."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..models import BundleCase, BundleCaseChild, BundleCaseStatus, CaseStatus, CaseTransition
from ..submission import presenters
from .selectors import case_outcomes, form_only, situation_of


def bundle_case_view(bundle_case: BundleCase, today: date) -> dict[str, Any]:
    """The applicant's view: the bundle, each child with its status, and one timeline."""
    children = list(
        BundleCaseChild.objects.filter(bundle_case=bundle_case).select_related(
            "case__item", "case__item_version", "case__department", "case__application"
        )
    )
    names = {child.bundle_item_id: child.case.item_version.name for child in children}
    cases = [child.case for child in children]
    outcomes = case_outcomes(cases)
    steps: dict[Any, list[CaseTransition]] = {case.pk: [] for case in cases}
    for step in CaseTransition.objects.filter(case__in=cases).order_by("occurred_at", "id"):
        steps[step.case_id].append(step)
    blocked_items = {
        child.bundle_item_id for child in children if outcomes[child.case_id] & {"deny", "reject"}
    }
    rows = []
    attention = []
    for child in children:
        case = child.case
        summary = presenters.case_summary(case, today)
        denial = next(
            (s.comment for s in reversed(steps[case.pk]) if s.action in {"deny", "reject"}), ""
        )
        blocked = case.status == CaseStatus.WAITING and bool(set(child.needs) & blocked_items)
        rows.append(
            {
                **summary,
                "position": child.position,
                "waiting_for": [names[n] for n in child.needs if n in names]
                if case.status == CaseStatus.WAITING
                else [],
                "blocked": blocked,
                "denial_reason": denial,
            }
        )
        if case.status == CaseStatus.CORRECTION_REQUESTED:
            attention.append(
                {
                    "kind": "correction",
                    "item_name": summary["item_name"],
                    "note": case.correction_note,
                }
            )
        if denial:
            attention.append({"kind": "denial", "item_name": summary["item_name"], "note": denial})
    timeline = sorted(
        (
            {
                **entry,
                "item_name": case.item_version.name,
                "case_number": case.case_number,
            }
            for case in cases
            for entry in presenters.timeline(case, steps[case.pk])
        ),
        key=lambda entry: entry["occurred_at"],
    )
    answers = situation_of(bundle_case)
    questions = list(bundle_case.bundle.questions.all())
    included = {child.bundle_item_id for child in children}
    not_applicable = [
        row.item.name
        for row in bundle_case.bundle.items.select_related("item").order_by("order", "id")
        if row.pk not in included
    ]
    return {
        "id": bundle_case.pk,
        "bundle_code": bundle_case.bundle.code,
        "bundle_name": bundle_case.bundle.name,
        "status": bundle_case.status,
        "status_label": BundleCaseStatus(bundle_case.status).label,
        "submitted_at": bundle_case.submitted_at,
        "completed_at": bundle_case.completed_at,
        "form": form_only(bundle_case.form_data),
        "situation": [
            {"code": q.code, "question": q.text, "answer": answers[q.code]}
            for q in questions
            if q.code in answers
        ],
        "not_applicable": not_applicable,
        "children": rows,
        "attention": attention,
        "timeline": timeline,
    }
