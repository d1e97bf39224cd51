from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tongban.cases.submission.services import UploadedMaterial, application_submit
from tongban.core.services import calendar_seed_year
from tongban.identity.models import StaffRole
from tongban.identity.services import api_token_issue

from . import factories as f


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """Two provinces, an owning department with clerk and reviewer, and outsiders."""
    f.division_tree()
    for year in (2025, 2026):
        calendar_seed_year(year=year)
    calendar_seed_year(year=2027)  # no official data: recorded as not official
    police = f.department("440100", "广州市公安局")
    other_department = f.department("440100", "广州市民政局")
    zhejiang = f.department("330100", "杭州市公安局")
    item = f.item(police)
    return {
        "department": police,
        "item": item,
        "citizen": f.citizen("李明"),
        "other_citizen": f.citizen("王芳"),
        "clerk": f.staff(police, [StaffRole.INTAKE]),
        "reviewer": f.staff(police, [StaffRole.REVIEW, StaffRole.DECISION]),
        "other_department_staff": f.staff(
            other_department, [StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION]
        ),
        "other_region_staff": f.staff(
            zhejiang, [StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION]
        ),
        "narrow_scope_staff": f.staff(police, [StaffRole.INTAKE], scope="440106"),
    }


@pytest.fixture
def submitted(world: dict[str, Any]) -> Any:
    result = application_submit(
        actor=world["citizen"],
        item_code=world["item"].implementation_code,
        form_data=dict(f.VALID_FORM),
        materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
    )
    return result.case


def bearer(actor: Any) -> dict[str, str]:
    raw, _ = api_token_issue(user=actor.user)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def api() -> Client:
    return Client()
