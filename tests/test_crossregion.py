"""跨省通办 (cases/crossregion.py): received in one region, handled in another, status synced —
between region tenants of one deployment and between two deployments on loopback; corrections
answered in the receiving region (补正); one application in parts for several regions
(多地联办)."""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.test import Client, TestCase

from tongban.cases.crossregion import services as crossregion
from tongban.cases.crossregion.presenters import received_summary
from tongban.cases.crossregion.selectors import received_applications_for_staff, received_overall
from tongban.cases.models import (
    Case,
    CaseStatus,
    CaseTransition,
    CrossRegionOrigin,
    MaterialSubmission,
    ReceivedApplication,
    ReceivedPart,
    ReceivedStage,
)
from tongban.cases.submission.services import UploadedMaterial, case_resubmit, case_transition
from tongban.catalog.services import item_publish
from tongban.core.errors import DomainError
from tongban.core.services import calendar_seed_year
from tongban.identity.models import StaffRole
from tongban.identity.selectors import actor_for_user
from tongban.interchange import services as interchange
from tongban.interchange.models import InboundMessage, OutboundMessage

from . import factories as f
from .conftest import bearer
from .test_interchange import Deployment

pytestmark = pytest.mark.django_db

ALL_ROLES = [StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION]


def run_after_commit() -> Any:
    """Tests run inside a transaction: run what waits for commit (delivery), nested too."""
    return TestCase.captureOnCommitCallbacks(execute=True)


@pytest.fixture
def regions(db: Any) -> dict[str, Any]:
    """Guangdong receives, Zhejiang handles; both region tenants of this deployment."""
    f.division_tree()
    calendar_seed_year(year=2026)
    for code, name in (("440000", "广东省"), ("330000", "浙江省")):
        interchange.peer_save(
            code=code, name=name, base_url="", public_key=interchange.region_public_key(code)
        )
    hangzhou = f.department("330100", "杭州市公安局")
    item = f.item(hangzhou, name="户口迁移（跨省通办）", cross_province=True)
    item_publish(item=item, actor="test")
    local_only = f.item(hangzhou, name="仅本地办理事项")
    guangdong = f.department("440000", "广东省政务服务中心")
    zhejiang = f.department("330000", "浙江省政务服务中心")
    return {
        "item": item,
        "local_only": local_only,
        "applicant": f.citizen("李明"),
        "gd_clerk": f.staff(guangdong, [StaffRole.INTAKE]),
        "zj_staff": f.staff(hangzhou, ALL_ROLES),
        "zj_clerk_of_gd_request": f.staff(zhejiang, [StaffRole.INTAKE]),
    }


def receive(regions: dict[str, Any], **overrides: Any) -> ReceivedApplication:
    arguments = {
        "actor": regions["applicant"],
        "item_code": regions["item"].implementation_code,
        "handling_region": "330000",
        "receiving_region": "440000",
        "form_data": dict(f.VALID_FORM),
        "materials": [UploadedMaterial("M01", "id.pdf", f.PDF)],
    }
    return crossregion.received_application_submit(**{**arguments, **overrides})


def hand_over(regions: dict[str, Any]) -> ReceivedApplication:
    received = receive(regions)
    with run_after_commit():
        crossregion.received_application_check(
            actor=regions["gd_clerk"], received_id=received.pk, accept=True
        )
    received.refresh_from_db()
    return received


class TestBetweenTenants:
    def test_received_checked_handed_over_and_handled_with_one_timeline(
        self, regions: dict[str, Any]
    ) -> None:
        received = receive(regions)
        assert received.stage == ReceivedStage.RECEIVED
        assert received.materials[0]["sha256"]
        assert not Case.objects.exists()  # nothing is handled before the receiving check

        with run_after_commit():
            crossregion.received_application_check(
                actor=regions["gd_clerk"], received_id=received.pk, accept=True
            )

        case = Case.objects.get()
        assert case.department.division_id == "330100"  # in the handling region's queue
        assert case.application.applicant == regions["applicant"].user  # same person, by ID
        assert CrossRegionOrigin.objects.get(case=case).receiving_region == "440000"
        received.refresh_from_db()
        assert received.stage == ReceivedStage.IN_HANDLING
        assert received.remote_case_number == case.case_number
        assert received.remote_status == CaseStatus.SUBMITTED

        for action in ("accept", "start_review", "approve"):
            with run_after_commit():
                case_transition(actor=regions["zj_staff"], case_id=case.pk, action=action)

        received.refresh_from_db()
        assert received.remote_status == CaseStatus.APPROVED
        assert [entry["action"] for entry in received.timeline] == [
            "received",
            "handed_over",
            "submit",
            "accept",
            "start_review",
            "approve",
        ]
        assert received.last_sequence == 4
        regions_seen = {entry["region"] for entry in received.timeline}
        assert regions_seen == {"440000", "330000"}

    def test_a_repeated_or_stale_status_message_changes_nothing(
        self, regions: dict[str, Any], client: Client
    ) -> None:
        received = hand_over(regions)
        case = Case.objects.get()
        with run_after_commit():
            case_transition(actor=regions["zj_staff"], case_id=case.pk, action="accept")
        status_messages = OutboundMessage.objects.filter(kind=crossregion.STATUS).order_by(
            "created_at"
        )
        first, latest = status_messages[0], status_messages.reverse()[0]
        received.refresh_from_db()
        before = (received.remote_status, len(received.timeline), received.last_sequence)

        for message in (latest, first):  # a duplicate, then a stale one with a new id
            body = message.body.encode()
            if message is first:
                envelope = json.loads(body)
                envelope["id"] = "7a1b0c8e-0000-4000-8000-0000000000aa"
                body = json.dumps(envelope).encode()
            private_hex, _ = interchange.sm2_key(interchange.KEY_PURPOSE, "330000")
            signature = interchange.sm2_sign(private_hex, body)
            result = interchange.message_receive(sender="330000", body=body, signature=signature)
            assert result.status in {"duplicate", "processed"}

        received.refresh_from_db()
        assert (received.remote_status, len(received.timeline), received.last_sequence) == before
        assert received.remote_status == CaseStatus.ACCEPTED

    def test_a_refusal_at_the_receiving_desk_is_told_and_nothing_is_handed_over(
        self, regions: dict[str, Any]
    ) -> None:
        received = receive(regions)
        with pytest.raises(DomainError) as error:
            crossregion.received_application_check(
                actor=regions["gd_clerk"], received_id=received.pk, accept=False
            )
        assert error.value.code == "comment_required"

        with run_after_commit():
            crossregion.received_application_check(
                actor=regions["gd_clerk"],
                received_id=received.pk,
                accept=False,
                comment="身份证复印件不清晰",
            )
        received.refresh_from_db()
        assert received.stage == ReceivedStage.REFUSED
        assert received.note == "身份证复印件不清晰"
        assert not OutboundMessage.objects.exists()
        assert not Case.objects.exists()
        with pytest.raises(DomainError) as again:
            crossregion.received_application_check(
                actor=regions["gd_clerk"], received_id=received.pk, accept=True
            )
        assert again.value.code == "already_checked"

    def test_the_handling_region_declining_is_shown_to_the_receiving_region(
        self, regions: dict[str, Any]
    ) -> None:
        received = receive(regions)
        item = regions["item"]
        item.cross_province = False  # withdrawn from 跨省通办 meanwhile
        item.save()
        item_publish(item=item, actor="test")

        with run_after_commit():
            crossregion.received_application_check(
                actor=regions["gd_clerk"], received_id=received.pk, accept=True
            )

        received.refresh_from_db()
        assert received.stage == ReceivedStage.DECLINED
        assert "跨省通办" in received.note
        assert not Case.objects.exists()
        handoff = OutboundMessage.objects.get(kind=crossregion.HANDOFF)
        assert handoff.delivered_at is not None  # answered, not retried forever
        assert handoff.reply["accepted"] is False

    def test_only_cross_province_items_of_another_region(self, regions: dict[str, Any]) -> None:
        with pytest.raises(DomainError) as error:
            receive(regions, item_code=regions["local_only"].implementation_code)
        assert error.value.code == "not_cross_province"
        with pytest.raises(DomainError) as same:
            receive(regions, handling_region="440000")
        assert same.value.code == "same_region"
        with pytest.raises(DomainError) as unknown:
            receive(regions, handling_region="110000")
        assert unknown.value.code == "unknown_region"
        with pytest.raises(DomainError) as invalid:
            receive(regions, materials=[])
        assert invalid.value.code in {"material_missing", "form_invalid"}
        assert not ReceivedApplication.objects.exists()

    def test_only_the_receiving_regions_clerks_check(self, regions: dict[str, Any]) -> None:
        received = receive(regions)
        with pytest.raises(DomainError) as outside:
            crossregion.received_application_check(
                actor=regions["zj_clerk_of_gd_request"], received_id=received.pk, accept=True
            )
        assert outside.value.status == 404
        assert not received_applications_for_staff(actor=regions["zj_clerk_of_gd_request"]).exists()
        with pytest.raises(DomainError) as citizen:
            crossregion.received_application_check(
                actor=regions["applicant"], received_id=received.pk, accept=True
            )
        assert citizen.value.status == 403


def request_correction(regions: dict[str, Any], note: str = "请补交结婚证，并更正迁移原因") -> Case:
    """The handling region's clerk asks for a correction (一次性告知); it reaches the receiving
    region."""
    case = Case.objects.get(department__division_id="330100")
    with run_after_commit():
        case_transition(
            actor=regions["zj_staff"], case_id=case.pk, action="request_correction", comment=note
        )
    return Case.objects.get(pk=case.pk)


def resign(message: OutboundMessage, *, new_id: str | None = None) -> tuple[bytes, bytes]:
    """The message's bytes again (as a lost acknowledgement makes the outbox send them), or a
    copy under a new envelope id (as if the sender had queued it twice), signed anew."""
    body = message.body.encode()
    if new_id is not None:
        envelope = json.loads(body)
        envelope["id"] = new_id
        body = json.dumps(envelope).encode()
    private_hex, _ = interchange.sm2_key(interchange.KEY_PURPOSE, message.sender)
    return body, interchange.sm2_sign(private_hex, body)


def case_state(case: Case) -> tuple[Any, ...]:
    case = Case.objects.get(pk=case.pk)
    return (
        case.status,
        case.version,
        CaseTransition.objects.filter(case=case).count(),
        MaterialSubmission.objects.filter(application=case.application).count(),
        dict(case.application.form_data),
    )


class TestCorrectionAcrossRegions:
    def test_a_correction_requested_there_is_answered_here_and_the_case_is_back_in_review(
        self, regions: dict[str, Any]
    ) -> None:
        received = hand_over(regions)
        case = request_correction(regions)
        received.refresh_from_db()
        assert received.remote_status == CaseStatus.CORRECTION_REQUESTED
        summary = received_summary(received)
        assert summary["overall_status"] == "correction_requested"
        assert summary["parts"][0]["awaiting_correction"] is True
        assert received.timeline[-1]["comment"] == "请补交结婚证，并更正迁移原因"

        with run_after_commit():
            crossregion.received_resubmit(
                actor=regions["applicant"],
                received_id=received.pk,
                form_data={"reason": "投靠亲属"},
                materials=[UploadedMaterial("M02", "marriage.pdf", f.PDF)],
            )

        # The handling region applied it with the ordinary resubmission: back in review.
        case = Case.objects.get(pk=case.pk)
        assert case.status == CaseStatus.RESUBMITTED
        assert case.application.form_data == {**f.VALID_FORM, "reason": "投靠亲属"}
        assert list(
            MaterialSubmission.objects.filter(application=case.application).values_list(
                "material_code", "original_name"
            )
        ) == [("M01", "id.pdf"), ("M02", "marriage.pdf")]
        step = case.transitions.order_by("-pk").first()
        assert step.action == "resubmit"
        # Handling staff see where it came from, not an ordinary 补正提交.
        assert step.comment == "申请人在受理地（广东省）提交补正，经跨省通办转来"
        # The receiving region recorded it and mirrors the answer: one timeline.
        received.refresh_from_db()
        assert received.form_data["reason"] == "投靠亲属"
        assert [m["material_code"] for m in received.materials] == ["M01", "M02"]
        assert received.remote_status == CaseStatus.RESUBMITTED
        assert [(e["action"], e["region"]) for e in received.timeline][-3:] == [
            ("request_correction", "330000"),
            ("resubmission_sent", "440000"),
            ("resubmit", "330000"),
        ]
        assert received.timeline[-2]["comment"] == "更正：申请事由；补交材料：结婚证"
        message = OutboundMessage.objects.get(kind=crossregion.RESUBMISSION)
        assert message.delivered_at is not None and message.reply["applied"] is True
        # The handling region then goes on as usual; the status keeps flowing back.
        with run_after_commit():
            case_transition(actor=regions["zj_staff"], case_id=case.pk, action="accept")
        received.refresh_from_db()
        assert received.remote_status == CaseStatus.ACCEPTED
        assert received_summary(received)["overall_status"] == "in_handling"

        # Nothing more to correct: refused here, nothing sent.
        with pytest.raises(DomainError) as again:
            crossregion.received_resubmit(
                actor=regions["applicant"], received_id=received.pk, form_data={}, materials=[]
            )
        assert (again.value.status, again.value.code) == (409, "not_awaiting_correction")
        assert OutboundMessage.objects.filter(kind=crossregion.RESUBMISSION).count() == 1

    def test_the_corrected_form_is_checked_here_against_the_items_rules(
        self, regions: dict[str, Any]
    ) -> None:
        received = hand_over(regions)
        request_correction(regions)
        with pytest.raises(DomainError) as error:
            crossregion.received_resubmit(
                actor=regions["applicant"],
                received_id=received.pk,
                form_data={"household_size": "many", "unknown": "x"},
                materials=[UploadedMaterial("M02", "a.txt", b"not a pdf")],
            )
        assert error.value.status == 422
        assert {"household_size", "unknown", "M02"} <= set(error.value.fields)
        assert not OutboundMessage.objects.filter(kind=crossregion.RESUBMISSION).exists()
        other = f.citizen("王芳")
        with pytest.raises(DomainError) as outsider:
            crossregion.received_resubmit(
                actor=other, received_id=received.pk, form_data={}, materials=[]
            )
        assert outsider.value.status == 404

    def test_a_duplicated_resubmission_message_changes_nothing(
        self, regions: dict[str, Any]
    ) -> None:
        received = hand_over(regions)
        case = request_correction(regions)
        with run_after_commit():
            crossregion.received_resubmit(
                actor=regions["applicant"],
                received_id=received.pk,
                form_data={"reason": "投靠亲属"},
                materials=[UploadedMaterial("M02", "marriage.pdf", f.PDF)],
            )
        before = case_state(case)
        statuses = OutboundMessage.objects.filter(kind=crossregion.STATUS).count()
        message = OutboundMessage.objects.get(kind=crossregion.RESUBMISSION)

        body, signature = resign(message)  # the same message again
        again = interchange.message_receive(sender="440000", body=body, signature=signature)
        assert again.status == "duplicate" and again.reply["applied"] is True
        body, signature = resign(message, new_id="7a1b0c8e-0000-4000-8000-0000000000bb")
        with run_after_commit():
            copy = interchange.message_receive(sender="440000", body=body, signature=signature)
        assert copy.status == "processed"
        assert copy.reply == {"applied": False, "duplicate": True}

        assert case_state(case) == before
        assert OutboundMessage.objects.filter(kind=crossregion.STATUS).count() == statuses

    def test_a_resubmission_after_the_case_moved_on_is_refused_and_shown(
        self, regions: dict[str, Any], client: Client
    ) -> None:
        received = hand_over(regions)
        case = request_correction(regions)
        # The applicant answered in the handling region's own portal meanwhile; its status
        # update has not reached the receiving region yet (no commit callbacks run here).
        applicant = actor_for_user(case.application.applicant)
        case_resubmit(actor=applicant, case_id=case.pk, form_data=dict(f.VALID_FORM), materials=[])
        before = case_state(case)

        with run_after_commit():
            crossregion.received_resubmit(
                actor=regions["applicant"],
                received_id=received.pk,
                form_data={"reason": "投靠亲属"},
                materials=[],
            )

        assert case_state(case) == before  # refused there: nothing changed
        message = OutboundMessage.objects.get(kind=crossregion.RESUBMISSION)
        assert message.delivered_at is not None  # answered, not retried forever
        assert message.reply["applied"] is False
        assert message.reply["code"] == "illegal_transition"
        received.refresh_from_db()
        refusal = received.timeline[-1]
        assert (refusal["action"], refusal["region"]) == ("resubmission_refused", "330000")
        assert refusal["label"] == "办理地未接受补正" and "不能执行“补正提交”" in refusal["comment"]
        assert received.remote_status == CaseStatus.RESUBMITTED  # the mirror caught up
        assert "不能执行“补正提交”" in received.note
        client.force_login(regions["applicant"].user)
        page = client.get("/me/cross-region/").content.decode()
        assert "办理地未接受补正" in page and "不能执行“补正提交”" in page


@pytest.fixture
def joint(regions: dict[str, Any]) -> dict[str, Any]:
    """异地就医备案 as 多地联办: an applicant insured in Zhejiang who lives in Guangdong applies in
    Guangdong; the insured region records the filing (参保地备案), the treating region registers
    the residence (就医地登记) — two parts, two handling regions."""
    insured = f.department("330100", "杭州市医疗保障局")
    treating = f.department("440100", "广州市医疗保障局")
    return {
        **regions,
        "insured_item": f.item(insured, name="异地就医备案（参保地）", cross_province=True),
        "treating_item": f.item(treating, name="异地就医登记（就医地）", cross_province=True),
        "insured_staff": f.staff(insured, ALL_ROLES),
        "treating_staff": f.staff(treating, ALL_ROLES),
    }


def receive_joint(joint: dict[str, Any], **overrides: Any) -> ReceivedApplication:
    arguments = {
        "actor": joint["applicant"],
        "parts": [
            crossregion.PartRequest(joint["insured_item"].implementation_code, "330000"),
            crossregion.PartRequest(joint["treating_item"].implementation_code, "440000"),
        ],
        "receiving_region": "440000",
        "form_data": dict(f.VALID_FORM),
        "materials": {
            1: [UploadedMaterial("M01", "id.pdf", f.PDF)],
            2: [UploadedMaterial("M01", "id-copy.pdf", f.PDF)],
        },
    }
    return crossregion.received_joint_submit(**{**arguments, **overrides})


def handle(actor: Any, case: Case, actions: tuple[str, ...]) -> None:
    for action in actions:
        with run_after_commit():
            case_transition(actor=actor, case_id=case.pk, action=action)


class TestJointHandling:
    def test_each_part_goes_to_its_region_and_the_status_is_per_part_and_overall(
        self, joint: dict[str, Any]
    ) -> None:
        received = receive_joint(joint)
        assert [(p.position, p.handling_region) for p in received.parts.all()] == [
            (1, "330000"),
            (2, "440000"),
        ]
        assert received_summary(received)["overall_status"] == "received"
        assert not Case.objects.exists()

        with run_after_commit():
            crossregion.received_application_check(
                actor=joint["gd_clerk"], received_id=received.pk, accept=True
            )

        handoffs = OutboundMessage.objects.filter(kind=crossregion.HANDOFF).order_by("peer_id")
        assert [(m.peer_id, json.loads(m.body)["payload"]["part"]) for m in handoffs] == [
            ("330000", 1),
            ("440000", 2),
        ]
        insured_case = Case.objects.get(item=joint["insured_item"])
        treating_case = Case.objects.get(item=joint["treating_item"])
        assert insured_case.department.division_id == "330100"
        assert treating_case.department.division_id == "440100"
        assert insured_case.application.idempotency_key == f"xr:440000:{received.pk}"
        assert treating_case.application.idempotency_key == f"xr:440000:{received.pk}:2"
        assert [
            (o.part, o.receiving_region) for o in CrossRegionOrigin.objects.order_by("part")
        ] == [(1, "440000"), (2, "440000")]
        summary = received_summary(ReceivedApplication.objects.get(pk=received.pk))
        assert (summary["overall_status"], summary["overall_status_label"]) == (
            "in_handling",
            "办理中",
        )
        assert [(p["position"], p["remote_status"]) for p in summary["parts"]] == [
            (1, CaseStatus.SUBMITTED),
            (2, CaseStatus.SUBMITTED),
        ]

        done = ("accept", "start_review", "approve", "complete")
        handle(joint["insured_staff"], insured_case, done)
        received.refresh_from_db()
        parts = list(received.parts.all())
        assert [p.remote_status for p in parts] == [CaseStatus.COMPLETED, CaseStatus.SUBMITTED]
        assert parts[0].remote_case_number == insured_case.case_number
        assert received_overall(received, parts) == "in_handling"  # not all done

        handle(joint["treating_staff"], treating_case, done)
        received.refresh_from_db()
        summary = received_summary(received)
        assert (summary["overall_status"], summary["overall_status_label"]) == (
            "completed",
            "已办结",
        )
        assert received.stage == ReceivedStage.IN_HANDLING
        by_part = [
            (e.get("part"), e["action"], e["region"])
            for e in received.timeline
            if e["action"] == "complete"
        ]
        assert sorted(by_part) == [(1, "complete", "330000"), (2, "complete", "440000")]
        assert [p.last_sequence for p in received.parts.all()] == [5, 5]

    def test_a_declined_part_makes_the_application_partly_declined(
        self, joint: dict[str, Any]
    ) -> None:
        received = receive_joint(joint)
        item = joint["treating_item"]
        item.cross_province = False  # withdrawn from 跨省通办 meanwhile
        item.save()
        item_publish(item=item, actor="test")

        with run_after_commit():
            crossregion.received_application_check(
                actor=joint["gd_clerk"], received_id=received.pk, accept=True
            )

        received.refresh_from_db()
        first, second = received.parts.all()
        assert (first.stage, first.remote_status) == (ReceivedStage.IN_HANDLING, "submitted")
        assert second.stage == ReceivedStage.DECLINED and "跨省通办" in second.note
        assert Case.objects.count() == 1  # only the part that was accepted is handled
        summary = received_summary(received)
        assert (summary["overall_status"], summary["overall_status_label"]) == (
            "partly_declined",
            "部分未受理",
        )
        assert summary["parts"][1]["stage_label"] == "办理地未受理"
        # The other part rejected too: the whole application is declined.
        case = Case.objects.get()
        with run_after_commit():
            case_transition(
                actor=joint["insured_staff"], case_id=case.pk, action="reject", comment="不符合条件"
            )
        received.refresh_from_db()
        assert received_overall(received, list(received.parts.all())) == "declined"

    def test_a_correction_of_one_part_is_answered_for_that_part(
        self, joint: dict[str, Any]
    ) -> None:
        received = receive_joint(joint)
        with run_after_commit():
            crossregion.received_application_check(
                actor=joint["gd_clerk"], received_id=received.pk, accept=True
            )
        treating_case = Case.objects.get(item=joint["treating_item"])
        with run_after_commit():
            case_transition(
                actor=joint["treating_staff"],
                case_id=treating_case.pk,
                action="request_correction",
                comment="请补交结婚证",
            )
        with pytest.raises(DomainError) as wrong_part:
            crossregion.received_resubmit(
                actor=joint["applicant"], received_id=received.pk, form_data={}, materials=[]
            )
        assert wrong_part.value.code == "not_awaiting_correction"

        with run_after_commit():
            crossregion.received_resubmit(
                actor=joint["applicant"],
                received_id=received.pk,
                part=2,
                form_data={},
                materials=[UploadedMaterial("M02", "marriage.pdf", f.PDF)],
            )

        assert Case.objects.get(pk=treating_case.pk).status == CaseStatus.RESUBMITTED
        received.refresh_from_db()
        assert [(m["part"], m["material_code"]) for m in received.materials] == [
            (1, "M01"),
            (2, "M01"),
            (2, "M02"),
        ]
        assert received.timeline[-1]["part"] == 2
        assert received.timeline[-1]["action"] == "resubmit"
        assert [p.remote_status for p in received.parts.all()] == [
            CaseStatus.SUBMITTED,
            CaseStatus.RESUBMITTED,
        ]

    def test_parts_are_checked_before_anything_is_received(self, joint: dict[str, Any]) -> None:
        with pytest.raises(DomainError) as one:
            receive_joint(
                joint,
                parts=[
                    crossregion.PartRequest(joint["insured_item"].implementation_code, "330000")
                ],
            )
        assert one.value.code == "parts_invalid"
        with pytest.raises(DomainError) as unknown:
            receive_joint(joint, materials={3: [UploadedMaterial("M01", "a.pdf", f.PDF)]})
        assert unknown.value.code == "material_part_unknown"
        with pytest.raises(DomainError) as missing:
            receive_joint(
                joint,
                form_data={**f.VALID_FORM, "extra": "x"},
                materials={1: [UploadedMaterial("M01", "id.pdf", f.PDF)]},
            )
        assert missing.value.code == "form_invalid"
        assert set(missing.value.fields) == {"extra", "2.M01"}
        assert "第2部分" in missing.value.fields["2.M01"]
        assert not ReceivedApplication.objects.exists()
        assert not ReceivedPart.objects.exists()

    def test_a_single_region_application_is_one_part(self, regions: dict[str, Any]) -> None:
        received = hand_over(regions)
        summary = received_summary(received)
        assert not ReceivedPart.objects.exists()
        assert [
            (p["position"], p["handling_region"], p["remote_status"]) for p in summary["parts"]
        ] == [(1, "330000", CaseStatus.SUBMITTED)]
        assert summary["overall_status"] == "in_handling"


class TestApi:
    def test_apply_list_and_detail_are_the_applicants_own(
        self, regions: dict[str, Any], client: Client
    ) -> None:
        body = {
            "item_code": regions["item"].implementation_code,
            "handling_region": "330000",
            "receiving_region": "440000",
            "form": dict(f.VALID_FORM),
            "materials": [
                {"material_code": "M01", "filename": "a.pdf", "content_base64": f.b64(f.PDF)}
            ],
        }
        headers = {**bearer(regions["applicant"]), "HTTP_IDEMPOTENCY_KEY": "xr-1"}
        created = client.post(
            "/api/v1/cross-region/applications", json.dumps(body), "application/json", **headers
        )
        assert created.status_code == 201, created.content
        again = client.post(
            "/api/v1/cross-region/applications", json.dumps(body), "application/json", **headers
        )
        assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
        assert ReceivedApplication.objects.count() == 1
        received_id = created.json()["id"]

        mine = client.get("/api/v1/cross-region/applications", **bearer(regions["applicant"]))
        assert [row["id"] for row in mine.json()] == [received_id]
        other = f.citizen("王芳")
        assert client.get("/api/v1/cross-region/applications", **bearer(other)).json() == []
        url = f"/api/v1/cross-region/applications/{received_id}"
        assert client.get(url, **bearer(other)).status_code == 404

        queue = client.get("/api/v1/cross-region/received", **bearer(regions["gd_clerk"]))
        assert [row["id"] for row in queue.json()] == [received_id]
        assert "content_base64" not in queue.content.decode()
        checked = client.post(
            f"/api/v1/cross-region/received/{received_id}/check",
            json.dumps({"accept": False, "comment": "材料不清晰"}),
            "application/json",
            **bearer(regions["gd_clerk"]),
        )
        assert checked.status_code == 200
        assert checked.json()["stage"] == ReceivedStage.REFUSED

    def test_bad_input_is_a_clear_4xx(self, regions: dict[str, Any], client: Client) -> None:
        response = client.post(
            "/api/v1/cross-region/applications",
            json.dumps(
                {
                    "item_code": "x",
                    "handling_region": "330000",
                    "materials": [
                        {"material_code": "M01", "filename": "a", "content_base64": "%%%"}
                    ],
                }
            ),
            "application/json",
            **bearer(regions["applicant"]),
        )
        assert response.status_code == 422
        assert response.json()["code"] == "material_encoding"
        assert client.get("/api/v1/cross-region/applications").status_code == 401


class TestCorrectionAndJointApi:
    def test_the_applicant_answers_a_correction_through_the_api(
        self, regions: dict[str, Any], client: Client
    ) -> None:
        received = hand_over(regions)
        url = f"/api/v1/cross-region/applications/{received.pk}/resubmission"
        body = {
            "form": {"reason": "投靠亲属"},
            "materials": [
                {"material_code": "M02", "filename": "m.pdf", "content_base64": f.b64(f.PDF)}
            ],
        }
        owner = bearer(regions["applicant"])
        early = client.post(url, json.dumps(body), "application/json", **owner)
        assert early.status_code == 409 and early.json()["code"] == "not_awaiting_correction"
        case = request_correction(regions)
        detail = client.get(f"/api/v1/cross-region/applications/{received.pk}", **owner).json()
        assert detail["overall_status"] == "correction_requested"
        assert detail["parts"][0]["awaiting_correction"] is True

        other = client.post(url, json.dumps(body), "application/json", **bearer(f.citizen("王芳")))
        assert other.status_code == 404
        bad_part = client.post(url, json.dumps({**body, "part": 2}), "application/json", **owner)
        assert bad_part.status_code == 404 and bad_part.json()["code"] == "part_not_found"
        with run_after_commit():
            answered = client.post(url, json.dumps(body), "application/json", **owner)
        assert answered.status_code == 200, answered.content
        # Answered when sent (delivery follows the commit): pending until the region answers.
        assert answered.json()["parts"][0]["resubmission_pending"] is True
        detail = client.get(f"/api/v1/cross-region/applications/{received.pk}", **owner).json()
        assert detail["parts"][0]["remote_status"] == CaseStatus.RESUBMITTED
        assert detail["parts"][0]["resubmission_pending"] is False
        assert Case.objects.get(pk=case.pk).status == CaseStatus.RESUBMITTED
        again = client.post(url, json.dumps(body), "application/json", **owner)
        assert again.status_code == 409
        assert OutboundMessage.objects.filter(kind=crossregion.RESUBMISSION).count() == 1

    def test_a_joint_application_through_the_api(
        self, joint: dict[str, Any], client: Client
    ) -> None:
        body = {
            "parts": [
                {
                    "item_code": joint["insured_item"].implementation_code,
                    "handling_region": "330000",
                },
                {
                    "item_code": joint["treating_item"].implementation_code,
                    "handling_region": "440000",
                },
            ],
            "receiving_region": "440000",
            "form": dict(f.VALID_FORM),
            "materials": [
                {
                    "part": 1,
                    "material_code": "M01",
                    "filename": "a.pdf",
                    "content_base64": f.b64(f.PDF),
                },
                {
                    "part": 2,
                    "material_code": "M01",
                    "filename": "b.pdf",
                    "content_base64": f.b64(f.PDF),
                },
            ],
        }
        headers = {**bearer(joint["applicant"]), "HTTP_IDEMPOTENCY_KEY": "joint-1"}
        url = "/api/v1/cross-region/joint-applications"
        created = client.post(url, json.dumps(body), "application/json", **headers)
        assert created.status_code == 201, created.content
        again = client.post(url, json.dumps(body), "application/json", **headers)
        assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
        data = created.json()
        assert [(p["position"], p["handling_region"], p["stage"]) for p in data["parts"]] == [
            (1, "330000", "received"),
            (2, "440000", "received"),
        ]
        assert [(m["part"], m["filename"]) for m in data["materials"]] == [
            (1, "a.pdf"),
            (2, "b.pdf"),
        ]
        assert data["overall_status_label"] == "待代收审核"
        single = client.post(
            url,
            json.dumps({**body, "parts": body["parts"][:1]}),
            "application/json",
            **bearer(joint["applicant"]),
        )
        assert single.status_code == 422
        assert ReceivedApplication.objects.count() == 1

        with run_after_commit():
            checked = client.post(
                f"/api/v1/cross-region/received/{data['id']}/check",
                json.dumps({"accept": True}),
                "application/json",
                **bearer(joint["gd_clerk"]),
            )
        assert checked.status_code == 200
        queue = client.get("/api/v1/cross-region/received", **bearer(joint["gd_clerk"])).json()
        assert queue[0]["overall_status"] == "in_handling"
        assert [p["remote_status"] for p in queue[0]["parts"]] == ["submitted", "submitted"]
        assert "content_base64" not in json.dumps(queue)


# ---------------------------------------------------------------- two deployments

ZHEJIANG_SEED = """
import json
from tests import factories as f
from tongban.core.services import calendar_seed_year
from tongban.identity.models import StaffRole
f.division_tree()
calendar_seed_year(year=2026)
dept = f.department("330100", "杭州市公安局")
item = f.item(dept, name="户口迁移（跨省通办）", cross_province=True)
staff = f.staff(dept, [StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION], username="zj-staff")
print(json.dumps({"item": item.implementation_code}))
"""

ZHEJIANG_HANDLE = """
from tongban.cases.models import Case
from tongban.cases.submission.services import case_transition
from tongban.identity.selectors import actor_for_user
from django.contrib.auth import get_user_model
actor = actor_for_user(get_user_model().objects.get(username="zj-staff"))
case = Case.objects.get()
for action in ("accept", "start_review", "approve"):
    case_transition(actor=actor, case_id=case.pk, action=action)
print(case.case_number)
"""


@pytest.mark.django_db(transaction=True)
def test_two_deployments_on_loopback(live_server: Any, tmp_path: Path, settings: Any) -> None:
    """Guangdong (this process) receives; Zhejiang (another deployment, its own database and
    keys) handles. The hand-off is retried while Zhejiang is down and a duplicate is ignored;
    Zhejiang's status changes reach Guangdong's applicant."""
    settings.TONGBAN = {**settings.TONGBAN, "REGION_CODES": ["440000"]}
    f.division_tree()
    guangdong = f.department("440000", "广东省政务服务中心")
    clerk = f.staff(guangdong, [StaffRole.INTAKE])
    applicant = f.citizen("李明")

    zhejiang = Deployment(tmp_path / "zhejiang")
    item_code = json.loads(zhejiang.manage("shell", "-c", ZHEJIANG_SEED).strip().splitlines()[-1])[
        "item"
    ]
    zhejiang.manage(
        "peer_add",
        "440000",
        "--name",
        "广东省",
        "--url",
        live_server.url,
        "--public-key",
        interchange.region_public_key("440000"),
    )
    zhejiang.start()
    try:
        from django.core.management import call_command

        call_command("peer_add", "330000", "--name", "浙江省", "--url", zhejiang.url, "--fetch-key")
        received = crossregion.received_application_submit(
            actor=applicant,
            item_code=item_code,
            handling_region="330000",
            form_data=dict(f.VALID_FORM),
            materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
        )

        # Zhejiang is down when the clerk hands over: the message waits in the outbox.
        zhejiang.stop()
        crossregion.received_application_check(actor=clerk, received_id=received.pk, accept=True)
        handoff = OutboundMessage.objects.get(kind=crossregion.HANDOFF)
        assert handoff.delivered_at is None and handoff.attempts == 1
        zhejiang.start()
        with time_machine.travel(handoff.next_attempt_at + timedelta(seconds=1)):
            assert interchange.outbox_deliver_due() == 1
        handoff.refresh_from_db()
        assert handoff.reply["reply"]["accepted"] is True
        received.refresh_from_db()
        assert received.stage == ReceivedStage.IN_HANDLING
        assert received.remote_case_number == handoff.reply["reply"]["case_number"]

        # The same hand-off again (e.g. its acknowledgement was lost): ignored there.
        request = urllib.request.Request(  # noqa: S310
            f"{zhejiang.url}/api/v1/interchange/messages",
            data=handoff.body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                interchange.SENDER_HEADER: "440000",
                interchange.SIGNATURE_HEADER: base64.b64encode(
                    bytes.fromhex(handoff.signature)
                ).decode(),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert json.loads(response.read())["status"] == "duplicate"

        # Zhejiang's staff handle the case; each step comes back to Guangdong.
        case_number = zhejiang.manage("shell", "-c", ZHEJIANG_HANDLE).strip().splitlines()[-1]
        assert case_number == received.remote_case_number
        received.refresh_from_db()
        assert received.remote_status == CaseStatus.APPROVED
        assert [entry["action"] for entry in received.timeline][-4:] == [
            "submit",
            "accept",
            "start_review",
            "approve",
        ]
        assert InboundMessage.objects.filter(kind=crossregion.STATUS).count() == 4
    finally:
        zhejiang.stop()


ZHEJIANG_CORRECTION = """
from tongban.cases.models import Case
from tongban.cases.submission.services import case_transition
from tongban.identity.selectors import actor_for_user
from django.contrib.auth import get_user_model
actor = actor_for_user(get_user_model().objects.get(username="zj-staff"))
case = Case.objects.get()
case_transition(actor=actor, case_id=case.pk, action="request_correction", comment="请补交结婚证")
"""

ZHEJIANG_CASE = """
import json
from tongban.cases.models import Case
case = Case.objects.get()
print(json.dumps({
    "status": case.status,
    "reason": case.application.form_data["reason"],
    "materials": sorted(case.application.materials.values_list("material_code", flat=True)),
    "steps": list(case.transitions.order_by("pk").values_list("action", flat=True)),
}))
"""

ZHEJIANG_MOVE_ON = """
from tongban.cases.models import Case
from tongban.cases.submission.services import case_transition
from tongban.identity.selectors import actor_for_user
from django.contrib.auth import get_user_model
actor = actor_for_user(get_user_model().objects.get(username="zj-staff"))
case = Case.objects.get()
for action in ("accept", "start_review"):
    case_transition(actor=actor, case_id=case.pk, action=action)
"""


@pytest.mark.django_db(transaction=True)
def test_correction_loop_between_two_deployments(
    live_server: Any, tmp_path: Path, settings: Any, client: Client
) -> None:
    """Zhejiang (the handling deployment) asks for a correction; the applicant answers it in
    Guangdong (this process); the case is back in review in Zhejiang. A duplicated resubmission
    is ignored there; one arriving after the case moved on is refused, recorded and shown."""
    settings.TONGBAN = {**settings.TONGBAN, "REGION_CODES": ["440000"]}
    f.division_tree()
    guangdong = f.department("440000", "广东省政务服务中心")
    clerk = f.staff(guangdong, [StaffRole.INTAKE])
    applicant = f.citizen("李明")

    zhejiang = Deployment(tmp_path / "zhejiang")
    seeded = zhejiang.manage("shell", "-c", ZHEJIANG_SEED).strip().splitlines()[-1]
    item_code = json.loads(seeded)["item"]
    zhejiang.manage(
        "peer_add",
        "440000",
        "--name",
        "广东省",
        "--url",
        live_server.url,
        "--public-key",
        interchange.region_public_key("440000"),
    )
    zhejiang.start()
    try:
        from django.core.management import call_command

        call_command("peer_add", "330000", "--name", "浙江省", "--url", zhejiang.url, "--fetch-key")
        received = crossregion.received_application_submit(
            actor=applicant,
            item_code=item_code,
            handling_region="330000",
            form_data=dict(f.VALID_FORM),
            materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
        )
        crossregion.received_application_check(actor=clerk, received_id=received.pk, accept=True)

        def zhejiang_case() -> dict[str, Any]:
            output = zhejiang.manage("shell", "-c", ZHEJIANG_CASE).strip().splitlines()[-1]
            return dict(json.loads(output))

        # Requested there, shown here.
        zhejiang.manage("shell", "-c", ZHEJIANG_CORRECTION)
        received.refresh_from_db()
        assert received.remote_status == CaseStatus.CORRECTION_REQUESTED
        assert received.timeline[-1]["comment"] == "请补交结婚证"

        # Answered here: checked against Zhejiang's item (its catalog API), sent, applied there.
        crossregion.received_resubmit(
            actor=applicant,
            received_id=received.pk,
            form_data={"reason": "投靠亲属"},
            materials=[UploadedMaterial("M02", "marriage.pdf", f.PDF)],
        )
        there = zhejiang_case()
        assert there["status"] == CaseStatus.RESUBMITTED
        assert there["reason"] == "投靠亲属"
        assert there["materials"] == ["M01", "M02"]
        assert there["steps"] == ["submit", "request_correction", "resubmit"]
        received.refresh_from_db()
        assert received.remote_status == CaseStatus.RESUBMITTED
        assert [(e["action"], e["region"]) for e in received.timeline][-3:] == [
            ("request_correction", "330000"),
            ("resubmission_sent", "440000"),
            ("resubmit", "330000"),
        ]
        message = OutboundMessage.objects.get(kind=crossregion.RESUBMISSION)
        assert message.reply["reply"]["applied"] is True

        # The same resubmission again, as the same message and as a copy: nothing changes.
        for new_id in (None, "7a1b0c8e-0000-4000-8000-0000000000cc"):
            body, signature = resign(message, new_id=new_id)
            request = urllib.request.Request(  # noqa: S310
                f"{zhejiang.url}/api/v1/interchange/messages",
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    interchange.SENDER_HEADER: "440000",
                    interchange.SIGNATURE_HEADER: base64.b64encode(signature).decode(),
                },
            )
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                answer = json.loads(response.read())
            if new_id is None:
                assert answer["status"] == "duplicate"
            else:
                assert answer["reply"] == {"applied": False, "duplicate": True}
        assert zhejiang_case() == there

        # The case moves on there; a resubmission arriving now is refused, recorded, shown.
        zhejiang.manage("shell", "-c", ZHEJIANG_MOVE_ON)
        with transaction.atomic():
            late = interchange.message_send(
                sender="440000",
                recipient="330000",
                kind=crossregion.RESUBMISSION,
                payload={
                    **json.loads(message.body)["payload"],
                    "resubmission_id": "5d1c7a52-0000-4000-8000-0000000000dd",
                },
            )
        late.refresh_from_db()
        assert late.delivered_at is not None  # answered, not retried
        assert late.reply["reply"]["code"] == "illegal_transition"
        assert zhejiang_case()["steps"] == [
            "submit",
            "request_correction",
            "resubmit",
            "accept",
            "start_review",
        ]
        received.refresh_from_db()
        assert received.remote_status == CaseStatus.UNDER_REVIEW
        assert received.timeline[-1]["action"] == "resubmission_refused"
        client.force_login(applicant.user)
        page = client.get("/me/cross-region/").content.decode()
        assert "办理地未接受补正" in page and "不能执行“补正提交”" in page
    finally:
        zhejiang.stop()


class TestPages:
    def test_apply_here_then_the_desk_hands_over_and_the_applicant_sees_the_timeline(
        self, regions: dict[str, Any], client: Client
    ) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile

        item = regions["item"]
        client.force_login(regions["applicant"].user)
        guide = client.get(f"/items/{item.implementation_code}/")
        assert f"/items/{item.implementation_code}/cross-region/" in guide.content.decode()
        page = client.get(f"/items/{item.implementation_code}/cross-region/")
        assert page.status_code == 200 and "浙江省" in page.content.decode()

        response = client.post(
            f"/items/{item.implementation_code}/cross-region/",
            {
                **f.VALID_FORM,
                "receiving_region": "440000",
                "submission_token": "t1",
                "material_M01": SimpleUploadedFile("id.pdf", f.PDF),
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        received = ReceivedApplication.objects.get()

        desk = Client()
        desk.force_login(regions["gd_clerk"].user)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.get(user=regions["gd_clerk"].user)
        session = desk.session
        session["otp_device_id"] = device.persistent_id
        session.save()
        queue = desk.get("/workbench/received/")
        assert queue.status_code == 200 and item.name in queue.content.decode()
        with run_after_commit():
            checked = desk.post(f"/workbench/received/{received.pk}/check/", {"decision": "accept"})
        assert checked.status_code == 302

        mine = client.get("/me/cross-region/").content.decode()
        case = Case.objects.get()
        assert case.case_number in mine
        assert "代收审核通过" in mine and "提交申请" in mine

    def test_other_citizens_and_other_regions_see_nothing(
        self, regions: dict[str, Any], client: Client
    ) -> None:
        received = receive(regions)
        client.force_login(f.citizen("王芳").user)
        assert regions["item"].name not in client.get("/me/cross-region/").content.decode()
        assert received.item_name not in client.get("/me/cross-region/").content.decode()


class TestCorrectionPages:
    def test_the_applicant_answers_a_correction_on_the_portal(
        self, regions: dict[str, Any], client: Client
    ) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile

        received = hand_over(regions)
        url = f"/me/cross-region/{received.pk}/resubmit/"
        client.force_login(regions["applicant"].user)
        assert url not in client.get("/me/cross-region/").content.decode()
        case = request_correction(regions, note="请补交结婚证")
        mine = client.get("/me/cross-region/").content.decode()
        assert url in mine and "待补正" in mine and "请补交结婚证" in mine
        page = client.get(f"{url}?part=1")
        assert page.status_code == 200
        assert (
            "请补交结婚证" in page.content.decode()
            and 'name="material_M02"' in page.content.decode()
        )

        invalid = client.post(url, {**f.VALID_FORM, "household_size": "many", "part": "1"})
        assert invalid.status_code == 422
        with run_after_commit():
            answered = client.post(
                url,
                {
                    **f.VALID_FORM,
                    "reason": "投靠亲属",
                    "part": "1",
                    "material_M02": SimpleUploadedFile("marriage.pdf", f.PDF),
                },
            )
        assert answered.status_code == 302
        case = Case.objects.get(pk=case.pk)
        assert case.status == CaseStatus.RESUBMITTED
        assert case.application.form_data["reason"] == "投靠亲属"
        mine = client.get("/me/cross-region/").content.decode()
        assert "申请人在代收地补正" in mine and "补正提交" in mine
        again = client.post(url, {**f.VALID_FORM, "part": "1"})
        assert again.status_code == 302
        assert OutboundMessage.objects.filter(kind=crossregion.RESUBMISSION).count() == 1

        other = Client()
        other.force_login(f.citizen("王芳").user)
        assert other.get(url).status_code == 404
        assert other.post(url, dict(f.VALID_FORM)).status_code == 404

    def test_the_desk_and_the_applicant_see_each_part_and_the_overall_status(
        self, joint: dict[str, Any], client: Client
    ) -> None:
        received = receive_joint(joint)
        item = joint["treating_item"]
        item.cross_province = False
        item.save()
        item_publish(item=item, actor="test")
        with run_after_commit():
            crossregion.received_application_check(
                actor=joint["gd_clerk"], received_id=received.pk, accept=True
            )
        client.force_login(joint["applicant"].user)
        mine = client.get("/me/cross-region/").content.decode()
        assert "部分未受理" in mine and "多地联办" in mine
        assert f"received-{received.pk}-part-2" in mine
        assert "异地就医备案（参保地）" in mine and "异地就医登记（就医地）" in mine
        assert "第2部分" in mine  # the timeline says which part an entry belongs to
