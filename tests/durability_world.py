"""A world with one case of each kind whose approval has a consequence in another aggregate:
a licence to issue, a 一件事 child to release, a receiving region to tell (ADR 0019).

Used in-process by tests/test_events.py and, in a subprocess with a database of its own, by
tests/durability_child.py (the process killed between commit and handler)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from tongban.cases.bundles.services import bundle_submit
from tongban.cases.crossregion import services as crossregion
from tongban.cases.models import BundleCaseChild, Case, CaseStatus
from tongban.cases.submission.services import UploadedMaterial, application_submit, case_transition
from tongban.catalog.bundles import DependencySpec, bundle_save
from tongban.catalog.services import item_publish
from tongban.core.models import Division
from tongban.core.services import calendar_seed_year
from tongban.identity.models import StaffRole
from tongban.identity.selectors import Actor
from tongban.interchange import services as interchange
from tongban.licenses.models import LicenseIssuance, LicenseType
from tongban.licenses.seed import licenses_seed

from . import factories as f

ALL_ROLES = [StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION]


def _text(title: str, element: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "string", "title": title, "maxLength": 50}
    if element:
        spec["x-element"] = element
    return spec


@dataclass(frozen=True)
class Ready:
    """Three cases under review, each one approval away from its consequence."""

    licensed_case: str  # approving it issues a 户籍证明
    upstream_case: str  # a bundle child; approving it releases `downstream_case`
    downstream_case: str
    cross_region_case: str  # handled in 330000 for an application received in 440000
    received_id: str
    reviewer_username: str
    bundle_reviewer_username: str
    handling_reviewer_username: str


Step = Callable[[], AbstractContextManager[Any]]


def build(step: Step = contextlib.nullcontext) -> Ready:
    """Create the world and bring each case to 审查中. Each write runs inside `step()`: nothing
    where writes commit (a subprocess), captureOnCommitCallbacks inside a test's transaction,
    so what waits for commit (hand-off delivery, events) runs before the next write."""

    def to_review(case_id: Any, clerk: Actor, reviewer: Actor) -> None:
        for action, actor in (("accept", clerk), ("start_review", reviewer)):
            with step():
                case_transition(actor=actor, case_id=case_id, action=action)

    f.division_tree()
    for year in (2025, 2026, 2027):
        calendar_seed_year(year=year)
    licenses_seed()

    # A licence: the item issues a 户籍证明.
    police = f.department("440100", "广州市公安局")
    item = f.item(police)
    LicenseIssuance.objects.create(
        implementation_code=item.implementation_code,
        license_type=LicenseType.objects.get(name="户口簿（户籍证明）"),
        field_mapping={
            "name": "@applicant_name",
            "move_reason": "reason",
            "to_address": "=广州市天河区（合成数据）",
            "moving_date": "move_date",
        },
    )
    citizen = f.citizen("李明")
    clerk, reviewer = f.staff(police, [StaffRole.INTAKE]), f.staff(police, ALL_ROLES)
    licensed = application_submit(
        actor=citizen,
        item_code=item.implementation_code,
        form_data=dict(f.VALID_FORM),
        materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
    ).case
    to_review(licensed.pk, clerk, reviewer)

    # 一件事: the household registration waits for the birth certificate's number.
    health = f.department("440100", "广州市卫生健康委员会")
    child = {
        "child_name": _text("新生儿姓名", "child.name"),
        "birth_date": {**_text("出生日期", "child.birth_date"), "format": "date"},
    }
    certificate = f.item(
        health,
        name="出生医学证明签发",
        form_schema={"type": "object", "required": ["child_name"], "properties": child},
    )
    household = f.item(
        police,
        name="出生户口登记",
        form_schema={
            "type": "object",
            "required": ["child_name", "certificate_number"],
            "properties": {
                **child,
                "certificate_number": _text("出生医学证明编号", "child.birth_certificate_number"),
            },
        },
    )
    bundle_save(
        code="newborn",
        name="新生儿出生一件事",
        division=Division.objects.get(code="440100"),
        lead_department=health,
        items=[certificate, household],
        dependencies=[DependencySpec(0, 1, ("child.birth_certificate_number",))],
        actor="test",
    )
    guardian = f.citizen("张丽")
    with step():
        bundle_case = bundle_submit(
            actor=guardian,
            bundle_code="newborn",
            form_data={"child.name": "张小宝", "child.birth_date": "2026-11-20"},
            materials=[UploadedMaterial("B01", "id.pdf", f.PDF)],
        ).bundle_case
    children = {
        row.case.item_id: row.case_id
        for row in BundleCaseChild.objects.filter(bundle_case=bundle_case).select_related("case")
    }
    health_clerk = f.staff(health, [StaffRole.INTAKE])
    health_reviewer = f.staff(health, ALL_ROLES)
    upstream, downstream = children[certificate.pk], children[household.pk]
    to_review(upstream, health_clerk, health_reviewer)

    # 跨省通办: received in Guangdong, handled in Zhejiang (both tenants of this deployment).
    for code, name in (("440000", "广东省"), ("330000", "浙江省")):
        interchange.peer_save(
            code=code, name=name, base_url="", public_key=interchange.region_public_key(code)
        )
    hangzhou = f.department("330100", "杭州市公安局")
    remote_item = f.item(hangzhou, name="户口迁移（跨省通办）", cross_province=True)
    item_publish(item=remote_item, actor="test")
    receiving_desk = f.department("440000", "广东省政务服务中心")
    received = crossregion.received_application_submit(
        actor=f.citizen("王芳"),
        item_code=remote_item.implementation_code,
        handling_region="330000",
        receiving_region="440000",
        form_data=dict(f.VALID_FORM),
        materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
    )
    desk_clerk = f.staff(receiving_desk, [StaffRole.INTAKE])
    with step():
        crossregion.received_application_check(
            actor=desk_clerk, received_id=received.pk, accept=True
        )
    handling = Case.objects.get(cross_region_origin__received_id=received.pk)
    handling_clerk = f.staff(hangzhou, [StaffRole.INTAKE])
    handling_reviewer = f.staff(hangzhou, ALL_ROLES)
    to_review(handling.pk, handling_clerk, handling_reviewer)

    for case_id in (licensed.pk, upstream, handling.pk):
        assert Case.objects.get(pk=case_id).status == CaseStatus.UNDER_REVIEW
    assert Case.objects.get(pk=downstream).status == CaseStatus.WAITING
    return Ready(
        licensed_case=str(licensed.pk),
        upstream_case=str(upstream),
        downstream_case=str(downstream),
        cross_region_case=str(handling.pk),
        received_id=str(received.pk),
        reviewer_username=reviewer.user.username,
        bundle_reviewer_username=health_reviewer.user.username,
        handling_reviewer_username=handling_reviewer.user.username,
    )


def consequences(ready: Ready) -> dict[str, Any]:
    """What the three approvals led to, counted (each should be exactly once)."""
    from tongban.cases.models import CaseTransition, ReceivedApplication
    from tongban.core.models import DeliveryStatus, EventDelivery
    from tongban.interchange.models import OutboundMessage
    from tongban.licenses.models import License

    received = ReceivedApplication.objects.get(pk=ready.received_id)
    return {
        "licences": License.objects.filter(case_id=ready.licensed_case).count(),
        "downstream_status": Case.objects.get(pk=ready.downstream_case).status,
        "downstream_releases": CaseTransition.objects.filter(
            case_id=ready.downstream_case, action="release"
        ).count(),
        "approvals_reported": [e["action"] for e in received.timeline].count("approve"),
        "received_remote_status": received.remote_status,
        "status_messages_sent": OutboundMessage.objects.filter(
            kind=crossregion.STATUS, body__contains='"action":"approve"'
        ).count(),
        "pending_deliveries": EventDelivery.objects.filter(status=DeliveryStatus.PENDING).count(),
    }
