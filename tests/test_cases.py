"""Cases: state machine, roles, scoping, masking, deadlines, uploads, idempotency."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine

from tongban.cases.deadlines import DeadlineColour, deadline_colour
from tongban.cases.models import Application, Case, CaseStatus, CaseTransition, MaterialSubmission
from tongban.cases.submission.services import (
    UploadedMaterial,
    application_submit,
    case_resubmit,
    case_transition,
)
from tongban.catalog.models import ServiceItem
from tongban.catalog.services import item_publish
from tongban.core.audit import audit_verify
from tongban.core.crypto import sha256_hex, sm3_hex
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.models import AuditRecord

from . import factories as f

pytestmark = pytest.mark.django_db


def submit(world: dict[str, Any], **overrides: Any) -> Any:
    arguments = {
        "actor": world["citizen"],
        "item_code": world["item"].implementation_code,
        "form_data": dict(f.VALID_FORM),
        "materials": [UploadedMaterial("M01", "id.pdf", f.PDF)],
    }
    arguments.update(overrides)
    return application_submit(**arguments)


def walk(world: dict[str, Any], case: Case, *actions: str) -> Case:
    actors = {
        "accept": "clerk",
        "reject": "clerk",
        "request_correction": "clerk",
        "complete": "reviewer",
        "start_review": "reviewer",
        "approve": "reviewer",
        "deny": "reviewer",
    }
    for action in actions:
        case = case_transition(
            actor=world[actors[action]], case_id=case.pk, action=action, comment="意见"
        )
    return case


class TestStateMachine:
    def test_happy_path_records_every_step(self, world: dict[str, Any], submitted: Case) -> None:
        case = walk(world, submitted, "accept", "start_review", "approve", "complete")
        assert case.status == CaseStatus.COMPLETED
        steps = list(
            CaseTransition.objects.filter(case=case).values_list(
                "action", "from_status", "to_status", "actor_role"
            )
        )
        assert steps == [
            ("submit", "", "submitted", "applicant"),
            ("accept", "submitted", "accepted", "intake"),
            ("start_review", "accepted", "under_review", "review"),
            ("approve", "under_review", "approved", "decision"),
            ("complete", "approved", "completed", "decision"),
        ]
        assert case.completed_at is not None
        assert audit_verify().ok

    def test_denied_case_completes(self, world: dict[str, Any], submitted: Case) -> None:
        assert (
            walk(world, submitted, "accept", "start_review", "deny", "complete").status
            == CaseStatus.COMPLETED
        )

    def test_reject_requires_a_reason(self, world: dict[str, Any], submitted: Case) -> None:
        with pytest.raises(InvalidInput) as error:
            case_transition(
                actor=world["clerk"], case_id=submitted.pk, action="reject", comment="  "
            )
        assert error.value.code == "comment_required"
        assert Case.objects.get(pk=submitted.pk).status == CaseStatus.SUBMITTED

    def test_illegal_transition_changes_nothing(
        self, world: dict[str, Any], submitted: Case
    ) -> None:
        before_steps = CaseTransition.objects.count()
        with pytest.raises(Conflict) as error:
            case_transition(actor=world["reviewer"], case_id=submitted.pk, action="approve")
        assert error.value.code == "illegal_transition"
        assert "已提交" in error.value.message
        case = Case.objects.get(pk=submitted.pk)
        assert (case.status, case.version, case.accepted_on) == (CaseStatus.SUBMITTED, 0, None)
        assert CaseTransition.objects.count() == before_steps
        denial = AuditRecord.objects.order_by("-sequence").first()
        assert (denial.action, denial.outcome, denial.detail["code"]) == (
            "case.approve",
            "denied",
            "illegal_transition",
        )

    def test_role_is_required(self, world: dict[str, Any], submitted: Case) -> None:
        with pytest.raises(PermissionDenied) as error:
            case_transition(actor=world["reviewer"], case_id=submitted.pk, action="accept")
        assert error.value.code == "role_required"
        assert Case.objects.get(pk=submitted.pk).status == CaseStatus.SUBMITTED

    def test_status_cannot_be_assigned_directly(
        self, world: dict[str, Any], submitted: Case
    ) -> None:
        case = Case.objects.get(pk=submitted.pk)
        with pytest.raises(AttributeError):
            case.status = CaseStatus.APPROVED

    def test_stale_version_is_refused(self, world: dict[str, Any], submitted: Case) -> None:
        with pytest.raises(Conflict) as error:
            case_transition(
                actor=world["clerk"], case_id=submitted.pk, action="accept", expected_version=7
            )
        assert error.value.code == "stale_case"

    def test_correction_and_resubmission(self, world: dict[str, Any], submitted: Case) -> None:
        case_transition(
            actor=world["clerk"],
            case_id=submitted.pk,
            action="request_correction",
            comment="请补充结婚证；迁入日期有误",
        )
        case = case_resubmit(
            actor=world["citizen"],
            case_id=submitted.pk,
            form_data={**f.VALID_FORM, "move_date": "2026-12-15"},
            materials=[UploadedMaterial("M02", "marriage.png", f.PNG)],
        )
        assert case.status == CaseStatus.RESUBMITTED
        assert case.application.form_data["move_date"] == "2026-12-15"
        assert sorted(case.application.materials.values_list("material_code", flat=True)) == [
            "M01",
            "M02",
        ]
        assert walk(world, case, "accept").status == CaseStatus.ACCEPTED

    def test_other_citizen_cannot_resubmit(self, world: dict[str, Any], submitted: Case) -> None:
        case_transition(
            actor=world["clerk"], case_id=submitted.pk, action="request_correction", comment="补充"
        )
        with pytest.raises(NotFound):
            case_resubmit(
                actor=world["other_citizen"],
                case_id=submitted.pk,
                form_data=dict(f.VALID_FORM),
                materials=[],
            )


class TestScope:
    @pytest.mark.parametrize(
        "outsider",
        ["other_department_staff", "other_region_staff", "narrow_scope_staff", "citizen"],
    )
    def test_outsiders_get_not_found_and_nothing_changes(
        self, world: dict[str, Any], submitted: Case, outsider: str
    ) -> None:
        with pytest.raises(NotFound):
            case_transition(actor=world[outsider], case_id=submitted.pk, action="accept")
        assert Case.objects.get(pk=submitted.pk).status == CaseStatus.SUBMITTED

    def test_province_scope_sees_city_cases(self, world: dict[str, Any], submitted: Case) -> None:
        from tongban.cases.submission.selectors import cases_for_staff
        from tongban.identity.models import StaffRole

        provincial = f.staff(world["department"], [StaffRole.INTAKE], scope="440100")
        assert list(cases_for_staff(staff=provincial.staff)) == [submitted]
        assert list(cases_for_staff(staff=world["narrow_scope_staff"].staff)) == []

    def test_unknown_and_malformed_ids_are_not_found(self, world: dict[str, Any]) -> None:
        for case_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
            with pytest.raises(NotFound):
                case_transition(actor=world["clerk"], case_id=case_id, action="accept")


class TestDeadlines:
    def test_deadline_is_counted_in_working_days_from_acceptance(
        self, world: dict[str, Any]
    ) -> None:
        with time_machine.travel("2026-09-30 10:00 +0800", tick=False):
            case = submit(world).case
            case = walk(world, case, "accept")
        # 5 committed working days after Wed 30 Sep: 8, 9, 10 (Sat, make-up), 12, 13 Oct.
        assert case.accepted_on == date(2026, 9, 30)
        assert case.committed_deadline == date(2026, 10, 13)
        assert case.committed_deadline_is_estimated is False
        assert case.warning_on == date(2026, 10, 12)  # ⌈0.8 × 5⌉ = 4 working days used
        assert deadline_colour(case, date(2026, 10, 8)) == DeadlineColour.NORMAL
        assert deadline_colour(case, date(2026, 10, 12)) == DeadlineColour.YELLOW  # 4 of 5 used
        assert deadline_colour(case, date(2026, 10, 13)) == DeadlineColour.YELLOW
        assert deadline_colour(case, date(2026, 10, 14)) == DeadlineColour.RED

    def test_clock_stops_at_decision(self, world: dict[str, Any]) -> None:
        with time_machine.travel("2026-09-30 10:00 +0800", tick=False):
            case = walk(world, submit(world).case, "accept", "start_review", "approve")
        assert deadline_colour(case, date(2026, 12, 1)) == DeadlineColour.NONE

    def test_each_deadline_says_whether_it_is_estimated(self, world: dict[str, Any]) -> None:
        with time_machine.travel("2026-12-14 10:00 +0800", tick=False):
            case = walk(world, submit(world).case, "accept")
        assert (case.committed_deadline, case.committed_deadline_is_estimated) == (
            date(2026, 12, 21),
            False,
        )
        assert (case.legal_deadline, case.legal_deadline_is_estimated) == (date(2027, 1, 11), True)

    def test_deadline_into_unofficial_year_is_flagged(self, world: dict[str, Any]) -> None:
        with time_machine.travel("2026-12-28 10:00 +0800", tick=False):
            case = walk(world, submit(world).case, "accept")
        assert case.committed_deadline == date(2027, 1, 4)
        assert case.committed_deadline_is_estimated is True


class TestVersions:
    def test_editing_an_item_never_changes_a_case_in_flight(
        self, world: dict[str, Any], submitted: Case
    ) -> None:
        item: ServiceItem = world["item"]
        old_version = submitted.item_version
        item.committed_limit_days = 2
        item.name = "户口迁入登记（新版）"
        item.save()
        new_version = item_publish(item=item, actor="admin")
        assert new_version.number == old_version.number + 1
        case = Case.objects.get(pk=submitted.pk)
        assert case.item_version_id == old_version.pk
        assert case.item_version.committed_limit_days == 5
        later = submit(world, idempotency_key="second").case
        assert later.item_version.number == new_version.number
        with time_machine.travel("2026-09-30 10:00 +0800", tick=False):
            accepted = walk(world, case, "accept")
        assert accepted.committed_deadline == date(
            2026, 10, 13
        )  # still 5 days, from its own version

    def test_publishing_unchanged_item_makes_no_version(self, world: dict[str, Any]) -> None:
        item = world["item"]
        assert item_publish(item=item, actor="admin").number == item.current_version.number


class TestSubmission:
    def test_form_errors_are_per_field_in_chinese(self, world: dict[str, Any]) -> None:
        with pytest.raises(InvalidInput) as error:
            submit(
                world,
                form_data={
                    "reason": "x" * 51,
                    "household_size": 0,
                    "category": "其他",
                    "spouse_id_number": "123",
                    "extra": 1,
                },
            )
        assert error.value.fields == {
            "reason": "“申请事由”不能超过 50 个字",
            "move_date": "请填写“迁入日期”",
            "household_size": "“家庭人数”不能小于 1",
            "category": "“类别”请从列表中选择：投靠、就业",
            "spouse_id_number": "“配偶身份证号”身份证号码应为18位",
            "extra": "申请表中没有此字段",
        }
        assert Application.objects.count() == 0

    def test_mandatory_material_missing(self, world: dict[str, Any]) -> None:
        with pytest.raises(InvalidInput) as error:
            submit(world, materials=[])
        assert error.value.code == "material_missing"
        assert error.value.fields == {"M01": "必要材料，请上传"}

    def test_type_is_sniffed_from_content_not_name(self, world: dict[str, Any]) -> None:
        with pytest.raises(InvalidInput) as error:
            submit(
                world, materials=[UploadedMaterial("M01", "id.pdf", b"MZ\x90\x00 this is an exe")]
            )
        assert error.value.code == "material_type_not_allowed"
        ok = submit(world, materials=[UploadedMaterial("M01", "photo.exe", f.PNG)])
        assert ok.application.materials.get().content_type == "image/png"

    def test_size_limit(self, world: dict[str, Any], settings: Any) -> None:
        too_big = f.PDF + b"0" * settings.TONGBAN["MATERIAL_MAX_BYTES"]
        with pytest.raises(InvalidInput) as error:
            submit(world, materials=[UploadedMaterial("M01", "big.pdf", too_big)])
        assert error.value.code == "material_too_large"
        assert MaterialSubmission.objects.count() == 0

    def test_digests_are_stored(self, world: dict[str, Any], submitted: Case) -> None:
        material = submitted.application.materials.get()
        assert material.sha256 == sha256_hex(f.PDF)
        assert material.sm3 == sm3_hex(f.PDF)
        assert material.file.read() == f.PDF

    def test_unknown_material_code(self, world: dict[str, Any]) -> None:
        with pytest.raises(InvalidInput) as error:
            submit(
                world,
                materials=[
                    UploadedMaterial("M01", "a.pdf", f.PDF),
                    UploadedMaterial("M99", "b.pdf", f.PDF),
                ],
            )
        assert error.value.code == "material_unknown"

    def test_staff_cannot_apply(self, world: dict[str, Any]) -> None:
        with pytest.raises(PermissionDenied):
            submit(world, actor=world["clerk"])

    def test_idempotent_retry_returns_the_first_case(self, world: dict[str, Any]) -> None:
        first = submit(world, idempotency_key="k-1")
        again = submit(world, idempotency_key="k-1")
        assert (first.created, again.created) == (True, False)
        assert again.case.pk == first.case.pk
        assert Case.objects.count() == 1

    def test_same_key_different_content_is_refused(self, world: dict[str, Any]) -> None:
        submit(world, idempotency_key="k-1")
        with pytest.raises(Conflict) as error:
            submit(world, idempotency_key="k-1", form_data={**f.VALID_FORM, "reason": "另一份"})
        assert error.value.code == "idempotency_key_reused"
        assert Case.objects.count() == 1

    def test_keys_are_per_applicant(self, world: dict[str, Any]) -> None:
        submit(world, idempotency_key="k-1")
        submit(world, idempotency_key="k-1", actor=world["other_citizen"])
        assert Case.objects.count() == 2

    def test_case_numbers_are_unique_and_follow_the_pattern(self, world: dict[str, Any]) -> None:
        with time_machine.travel("2026-11-26 10:00 +0800", tick=False):
            numbers = [submit(world, idempotency_key=str(i)).case.case_number for i in range(3)]
        code = world["item"].implementation_code
        assert numbers == [f"{code}20261126{i:06d}" for i in (1, 2, 3)]


class TestEnterpriseApplicant:
    def test_agent_applies_for_the_enterprise(self, world: dict[str, Any]) -> None:
        from tongban.identity.services import enterprise_register

        item = f.item(world["department"], objects=["enterprise"])
        agent = world["citizen"]
        enterprise = enterprise_register(
            uscc="91110000600037341L",
            name="示例有限公司",
            legal_representative="李明",
            agent=agent.citizen,
        )
        with pytest.raises(InvalidInput) as error:
            submit(world, item_code=item.implementation_code)
        assert error.value.code == "applicant_type_not_served"
        with pytest.raises(PermissionDenied) as denied:
            submit(
                world,
                item_code=item.implementation_code,
                actor=world["other_citizen"],
                enterprise_uscc=enterprise.uscc,
            )
        assert denied.value.code == "not_enterprise_agent"
        case = submit(
            world, item_code=item.implementation_code, enterprise_uscc=enterprise.uscc
        ).case
        assert case.application.enterprise == enterprise
        assert case.application.applicant_name == "示例有限公司"
        assert case.application.applicant_id_number == "91110000600037341L"


class TestMaterialsSweep:
    def test_files_of_rolled_back_submissions_are_deleted_once_old(
        self, world: dict[str, Any], capsys: Any, settings: Any, tmp_path: Any
    ) -> None:
        from datetime import timedelta

        from django.db import transaction

        from tongban.cases.submission.materials import materials_sweep
        from tongban.cli import main as cli_main

        # A storage of its own: other tests' rolled-back files must not count here.
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(tmp_path)}},
        }
        kept = submit(world).application.materials.get()
        storage = kept.file.storage
        before = set(_material_names(storage))
        with pytest.raises(RuntimeError), transaction.atomic():
            submit(world, materials=[UploadedMaterial("M01", "lost.pdf", f.PDF + b"% lost\n")])
            raise RuntimeError("the submission's transaction rolls back")
        orphans = set(_material_names(storage)) - before
        assert len(orphans) == 1 and kept.file.name not in orphans

        # Fresh files are never judged: a submission may still be in flight.
        assert materials_sweep().checked == 0
        with pytest.raises(InvalidInput):
            materials_sweep(older_than=timedelta(minutes=5))
        with time_machine.travel(timedelta(days=2)):
            dry = materials_sweep(dry_run=True)
            assert (dry.checked, dry.deleted) == (2, 1) and dry.bytes_freed > 0
            assert set(_material_names(storage)) >= orphans  # nothing deleted
            assert cli_main(["materials", "sweep"]) == 0
            assert "deleted 1 unreferenced" in capsys.readouterr().out
        assert set(_material_names(storage)) == before
        with kept.file.open("rb") as handle:  # the referenced file is untouched
            assert sha256_hex(handle.read()) == kept.sha256
        record = AuditRecord.objects.get(action="materials.sweep")
        assert record.detail == {"checked": 2, "deleted": 1, "bytes": dry.bytes_freed}
        assert audit_verify().ok


def _material_names(storage: Any, directory: str = "materials") -> list[str]:
    if not storage.exists(directory):
        return []
    directories, files = storage.listdir(directory)
    names = [f"{directory}/{name}" for name in files]
    for child in directories:
        names += _material_names(storage, f"{directory}/{child}")
    return names
