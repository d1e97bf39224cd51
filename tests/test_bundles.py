"""一件事一次办: bundles (cycle refused, merged form, shared materials, critical path) and
bundle cases (children in parallel, dependency honoured, outputs flow, aggregate status,
correction answered once, denial shown), through services and the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tongban.cases.bundles.presenters import bundle_case_view
from tongban.cases.bundles.services import bundle_resubmit, bundle_submit
from tongban.cases.models import (
    BundleCase,
    BundleCaseStatus,
    Case,
    CaseStatus,
    MaterialSubmission,
)
from tongban.cases.submission.services import UploadedMaterial, case_transition
from tongban.catalog.bundles import (
    DependencySpec,
    QuestionSpec,
    bundle_form,
    bundle_get,
    bundle_save,
    critical_path,
    dependency_cycle,
)
from tongban.catalog.models import Bundle, BundleDependency, Material, SituationKind
from tongban.catalog.services import item_publish
from tongban.core import clock
from tongban.core.errors import Conflict, InvalidInput, PermissionDenied
from tongban.core.models import Division
from tongban.exchange.models import Consent, DataUseRecord
from tongban.exchange.services import (
    exchange_cache_clear,
    grant_decide,
    grant_request,
    legal_entity_record_put,
    population_record_put,
    registries_seed,
)
from tongban.identity.models import StaffRole
from tongban.identity.services import enterprise_register

from . import factories as f
from .conftest import bearer


def _text(title: str, element: str = "", **extra: Any) -> dict[str, Any]:
    spec = {"type": "string", "title": title, "maxLength": 50, **extra}
    if element:
        spec["x-element"] = element
    return spec


CHILD = {
    "child_name": _text("新生儿姓名", "child.name"),
    "birth_date": _text("出生日期", "child.birth_date", format="date"),
    "guardian_id_number": _text("监护人身份证号", "guardian.id_number", format="id_number"),
}


def _schema(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["child_name", "birth_date", *required],
        "properties": {**CHILD, **extra},
    }


@pytest.fixture
def newborn(world: dict[str, Any]) -> dict[str, Any]:
    """Four departments: birth certificate (health) and vaccination (cdc) start at once; the
    household registration (police) needs the birth certificate's number; insurance needs
    the household registration's number."""
    health = f.department("440100", "广州市卫生健康委员会")
    cdc = f.department("440100", "广州市疾病预防控制中心")
    police = world["department"]
    insurance = f.department("440100", "广州市医疗保障局")
    certificate = f.item(
        health,
        committed=1,
        name="出生医学证明签发",
        form_schema=_schema({"hospital": _text("分娩医院")}, ["hospital"]),
    )
    vaccination = f.item(cdc, committed=1, name="预防接种证办理", form_schema=_schema({}, []))
    household = f.item(
        police,
        committed=2,
        name="出生户口登记",
        form_schema=_schema(
            {
                "certificate_number": _text("出生医学证明编号", "child.birth_certificate_number"),
                "hospital": _text("出生地点"),
            },
            ["certificate_number", "guardian_id_number"],
        ),
    )
    enrolment = f.item(
        insurance,
        committed=1,
        name="城乡居民医保参保登记",
        form_schema=_schema(
            {"household_number": _text("户口登记编号", "child.household_registration_number")},
            ["household_number"],
        ),
    )
    bundle = bundle_save(
        code="newborn",
        name="新生儿出生一件事",
        division=Division.objects.get(code="440100"),
        lead_department=health,
        items=[certificate, vaccination, household, enrolment],
        dependencies=[
            DependencySpec(0, 2, ("child.birth_certificate_number",)),
            DependencySpec(2, 3, ("child.household_registration_number",)),
        ],
        actor="test",
    )
    staff = {
        name: (
            f.staff(department, [StaffRole.INTAKE]),
            f.staff(department, [StaffRole.REVIEW, StaffRole.DECISION]),
        )
        for name, department in (
            ("health", health),
            ("cdc", cdc),
            ("police", police),
            ("insurance", insurance),
        )
    }
    return {**world, "bundle": bundle, "staff": staff, "guardian": f.citizen("张丽")}


FORM = {
    "child.name": "张小宝",
    "child.birth_date": "2026-11-20",
    "guardian.id_number": "",  # filled per test from the guardian
    "item1__hospital": "广州市妇女儿童医疗中心",
    "item3__hospital": "广州市天河区",
}


def _form(newborn: dict[str, Any], **changes: Any) -> dict[str, Any]:
    guardian = newborn["guardian"].citizen
    return {**FORM, "guardian.id_number": guardian.id_number, **changes}


def _submit(newborn: dict[str, Any], key: str | None = "k1") -> BundleCase:
    return bundle_submit(
        actor=newborn["guardian"],
        bundle_code="newborn",
        form_data=_form(newborn),
        materials=[UploadedMaterial("B01", "id.pdf", f.PDF)],
        idempotency_key=key,
    ).bundle_case


def _children(bundle_case: BundleCase) -> dict[str, Case]:
    return {
        child.case.item.name: child.case
        for child in bundle_case.children.select_related("case__item")
    }


def _approve(newborn: dict[str, Any], department: str, case: Case, complete: bool = True) -> None:
    clerk, reviewer = newborn["staff"][department]
    case_transition(actor=clerk, case_id=case.pk, action="accept")
    case_transition(actor=reviewer, case_id=case.pk, action="start_review")
    case_transition(actor=reviewer, case_id=case.pk, action="approve")
    if complete:
        case_transition(actor=reviewer, case_id=case.pk, action="complete")


# ---------------------------------------------------------------- the bundle


class TestBundleDefinition:
    def test_a_cycle_is_refused_and_nothing_changes(self, newborn: dict[str, Any]) -> None:
        bundle = newborn["bundle"]
        items = [row.item for row in bundle.items.order_by("order")]
        with pytest.raises(InvalidInput) as error:
            bundle_save(
                code="newborn",
                name="新生儿出生一件事",
                division=bundle.division,
                lead_department=bundle.lead_department,
                items=items,
                dependencies=[
                    DependencySpec(0, 2, ("child.birth_certificate_number",)),
                    DependencySpec(2, 3),
                    DependencySpec(3, 0),
                ],
                actor="test",
            )
        assert error.value.code == "bundle_cycle"
        assert "出生医学证明签发 → 出生户口登记" in error.value.message
        assert BundleDependency.objects.filter(bundle=bundle).count() == 2

    def test_an_output_the_dependant_cannot_take_is_refused(self, newborn: dict[str, Any]) -> None:
        bundle = newborn["bundle"]
        items = [row.item for row in bundle.items.order_by("order")]
        with pytest.raises(InvalidInput) as error:
            bundle_save(
                code="other",
                name="另一件事",
                division=bundle.division,
                lead_department=bundle.lead_department,
                items=items,
                dependencies=[DependencySpec(0, 1, ("child.birth_certificate_number",))],
                actor="test",
            )
        assert error.value.code == "bundle_output_invalid"
        assert not Bundle.objects.filter(code="other").exists()

    def test_cycle_detection_and_critical_path_functions(self) -> None:
        assert dependency_cycle(["a", "b", "c"], [("a", "b"), ("b", "c")]) is None
        assert dependency_cycle(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b")]) == [
            "b",
            "c",
            "b",
        ]
        path = critical_path({"a": 1, "b": 5, "c": 2, "d": 3}, [("a", "c"), ("c", "d")])
        assert (path.promised_days, path.separate_days, path.path) == (6, 11, ["a", "c", "d"])

    def test_merged_form_asks_each_element_once(self, newborn: dict[str, Any]) -> None:
        form = bundle_form(bundle_get(code="newborn"))
        names = form.schema["properties"]
        # child.name etc. appear in all four items but are asked once; fields without an
        # element stay per item; elements an upstream item supplies are not asked at all.
        # (Compared as sets: PostgreSQL's jsonb does not keep the schema's key order.)
        assert set(names) == {
            "child.name",
            "child.birth_date",
            "guardian.id_number",
            "item1__hospital",
            "item3__hospital",
        }
        assert len(names) == 5
        assert set(form.schema["required"]) == {
            "child.name",
            "child.birth_date",
            "item1__hospital",
            "guardian.id_number",
        }
        assert form.schema["properties"]["item3__hospital"]["title"] == "出生地点（出生户口登记）"

    def test_materials_are_shared(self, newborn: dict[str, Any]) -> None:
        form = bundle_form(bundle_get(code="newborn"))
        # every factory item needs 居民身份证 (mandatory) and 结婚证 (optional)
        assert [(m.code, m.name, m.is_mandatory, len(m.uses)) for m in form.materials] == [
            ("B01", "居民身份证", True, 4),
            ("B02", "结婚证", False, 4),
        ]

    def test_critical_path_of_the_bundle(self, newborn: dict[str, Any]) -> None:
        form = bundle_form(bundle_get(code="newborn"))
        # 1 (certificate) + 2 (household) + 1 (insurance) = 4; separately 1 + 1 + 2 + 1 = 5
        assert (form.critical.promised_days, form.critical.separate_days) == (4, 5)


# ---------------------------------------------------------------- the bundle case


class TestBundleCase:
    def test_submission_creates_bundle_and_children(self, newborn: dict[str, Any]) -> None:
        bundle_case = _submit(newborn)
        children = _children(bundle_case)
        assert {name: case.status for name, case in children.items()} == {
            "出生医学证明签发": CaseStatus.SUBMITTED,
            "预防接种证办理": CaseStatus.SUBMITTED,
            "出生户口登记": CaseStatus.WAITING,
            "城乡居民医保参保登记": CaseStatus.WAITING,
        }
        # each child in its own department with its own case number
        assert len({case.department_id for case in children.values()}) == 4
        assert len({case.case_number for case in children.values()}) == 4
        assert bundle_case.status == BundleCaseStatus.IN_PROGRESS
        household = children["出生户口登记"]
        assert household.application.form_data == {
            "child_name": "张小宝",
            "birth_date": "2026-11-20",
            "guardian_id_number": newborn["guardian"].citizen.id_number,
            "hospital": "广州市天河区",
        }
        # one upload, stored once, recorded for every item that needs it
        rows = MaterialSubmission.objects.filter(
            application__cases__bundle_child__bundle_case=bundle_case
        )
        assert rows.count() == 4
        assert len({row.file.name for row in rows}) == 1

    def test_idempotent_submission(self, newborn: dict[str, Any]) -> None:
        first = _submit(newborn, key="same")
        again = bundle_submit(
            actor=newborn["guardian"],
            bundle_code="newborn",
            form_data=_form(newborn),
            materials=[UploadedMaterial("B01", "id.pdf", f.PDF)],
            idempotency_key="same",
        )
        assert (again.created, again.bundle_case.pk) == (False, first.pk)
        assert Case.objects.count() == 4
        with pytest.raises(Conflict):
            bundle_submit(
                actor=newborn["guardian"],
                bundle_code="newborn",
                form_data=_form(newborn, **{"child.name": "张大宝"}),
                materials=[UploadedMaterial("B01", "id.pdf", f.PDF)],
                idempotency_key="same",
            )

    def test_validation_tells_everything_at_once_and_creates_nothing(
        self, newborn: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidInput) as error:
            bundle_submit(
                actor=newborn["guardian"],
                bundle_code="newborn",
                form_data=_form(newborn, **{"child.birth_date": "2026-13-01"}),
                materials=[],
            )
        assert set(error.value.fields) == {"child.birth_date", "B01"}
        assert not BundleCase.objects.exists() and not Case.objects.exists()

    def test_waiting_child_cannot_be_accepted(self, newborn: dict[str, Any]) -> None:
        household = _children(_submit(newborn))["出生户口登记"]
        clerk, _ = newborn["staff"]["police"]
        with pytest.raises(Conflict):
            case_transition(actor=clerk, case_id=household.pk, action="accept")
        household = Case.objects.get(pk=household.pk)
        assert household.status == CaseStatus.WAITING

    def test_dependency_honoured_and_outputs_flow(
        self, newborn: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        bundle_case = _submit(newborn)
        children = _children(bundle_case)
        with django_capture_on_commit_callbacks(execute=True):
            _approve(newborn, "cdc", children["预防接种证办理"])
        household = Case.objects.get(pk=children["出生户口登记"].pk)
        assert household.status == CaseStatus.WAITING  # the vaccination is not its upstream
        with django_capture_on_commit_callbacks(execute=True):
            _approve(newborn, "health", children["出生医学证明签发"], complete=False)
        household = Case.objects.get(pk=household.pk)
        assert household.status == CaseStatus.SUBMITTED
        certificate = children["出生医学证明签发"]
        assert household.application.form_data["certificate_number"] == certificate.case_number
        release = household.transitions.order_by("-id").first()
        assert release is not None and release.action == "release"
        assert certificate.case_number in release.comment
        enrolment = Case.objects.get(pk=children["城乡居民医保参保登记"].pk)
        assert enrolment.status == CaseStatus.WAITING
        with django_capture_on_commit_callbacks(execute=True):
            _approve(newborn, "police", household)
        enrolment = Case.objects.get(pk=enrolment.pk)
        assert enrolment.status == CaseStatus.SUBMITTED
        assert enrolment.application.form_data["household_number"] == household.case_number

    def test_bundle_completes_when_all_children_complete(
        self, newborn: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        bundle_case = _submit(newborn)
        children = _children(bundle_case)
        order = [
            ("health", "出生医学证明签发"),
            ("cdc", "预防接种证办理"),
            ("police", "出生户口登记"),
            ("insurance", "城乡居民医保参保登记"),
        ]
        for index, (department, name) in enumerate(order):
            with django_capture_on_commit_callbacks(execute=True):
                _approve(newborn, department, Case.objects.get(pk=children[name].pk))
            bundle_case.refresh_from_db()
            expected = (
                BundleCaseStatus.COMPLETED
                if index == len(order) - 1
                else BundleCaseStatus.IN_PROGRESS
            )
            assert bundle_case.status == expected
        assert bundle_case.completed_at is not None
        view = bundle_case_view(bundle_case, clock.today())
        assert view["status_label"] == "已办结"
        labels = [entry["label"] for entry in view["timeline"]]
        assert labels.count("办结") == 4 and labels.count("前序事项办结，开始办理") == 2

    def test_correction_answered_once(
        self, newborn: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        bundle_case = _submit(newborn)
        children = _children(bundle_case)
        with django_capture_on_commit_callbacks(execute=True):
            for department, name in (("health", "出生医学证明签发"), ("cdc", "预防接种证办理")):
                clerk, _ = newborn["staff"][department]
                case_transition(
                    actor=clerk,
                    case_id=children[name].pk,
                    action="request_correction",
                    comment="新生儿姓名与出生记录不一致",
                )
        bundle_case.refresh_from_db()
        assert bundle_case.status == BundleCaseStatus.CORRECTION_REQUESTED
        view = bundle_case_view(bundle_case, clock.today())
        assert [(a["kind"], a["item_name"]) for a in view["attention"]] == [
            ("correction", "出生医学证明签发"),
            ("correction", "预防接种证办理"),
        ]
        with django_capture_on_commit_callbacks(execute=True):
            bundle_resubmit(
                actor=newborn["guardian"],
                bundle_case_id=bundle_case.pk,
                form_data={"child.name": "张小贝"},
                materials=[UploadedMaterial("B02", "marriage.png", f.PNG)],
            )
        bundle_case.refresh_from_db()
        assert bundle_case.status == BundleCaseStatus.IN_PROGRESS
        assert bundle_case.form_data["child.name"] == "张小贝"
        for name in ("出生医学证明签发", "预防接种证办理"):
            case = Case.objects.get(pk=children[name].pk)
            assert case.status == CaseStatus.RESUBMITTED
            assert case.application.form_data["child_name"] == "张小贝"
            assert case.application.materials.filter(material_code="M02").count() == 1
        # the waiting children were not asking: untouched until they start
        household = Case.objects.get(pk=children["出生户口登记"].pk)
        assert household.application.form_data["child_name"] == "张小宝"
        with pytest.raises(Conflict):
            bundle_resubmit(
                actor=newborn["guardian"],
                bundle_case_id=bundle_case.pk,
                form_data={},
                materials=[],
            )

    def test_denial_is_shown_and_dependants_are_blocked(
        self, newborn: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        bundle_case = _submit(newborn)
        certificate = _children(bundle_case)["出生医学证明签发"]
        clerk, reviewer = newborn["staff"]["health"]
        with django_capture_on_commit_callbacks(execute=True):
            case_transition(actor=clerk, case_id=certificate.pk, action="accept")
            case_transition(actor=reviewer, case_id=certificate.pk, action="start_review")
            case_transition(
                actor=reviewer, case_id=certificate.pk, action="deny", comment="无分娩记录"
            )
        bundle_case.refresh_from_db()
        assert bundle_case.status == BundleCaseStatus.DENIED
        view = bundle_case_view(bundle_case, clock.today())
        assert {"kind": "denial", "item_name": "出生医学证明签发", "note": "无分娩记录"} in view[
            "attention"
        ]
        household = next(c for c in view["children"] if c["item_name"] == "出生户口登记")
        assert household["blocked"] is True and household["status"] == CaseStatus.WAITING


# ---------------------------------------------------------------- API


class TestBundleApi:
    def test_bundle_list_and_detail(self, newborn: dict[str, Any], api: Any) -> None:
        listing = api.get("/api/v1/catalog/bundles").json()
        assert [(b["code"], b["promised_days"], b["separate_days"]) for b in listing["items"]] == [
            ("newborn", 4, 5)
        ]
        detail = api.get("/api/v1/catalog/bundles/newborn").json()
        assert [p["needs"] for p in detail["parts"]] == [[], [], [1], [3]]
        assert [p["on_critical_path"] for p in detail["parts"]] == [True, False, True, True]
        assert detail["materials"][0] == {
            "code": "B01",
            "name": "居民身份证",
            "material_type": "1",
            "is_mandatory": True,
            "used_by": [1, 2, 3, 4],
        }
        assert api.get("/api/v1/catalog/bundles/nothing").status_code == 404

    def test_submit_and_follow(self, newborn: dict[str, Any], api: Any) -> None:
        body = {
            "bundle_code": "newborn",
            "form": _form(newborn),
            "materials": [
                {"material_code": "B01", "filename": "id.pdf", "content_base64": f.b64(f.PDF)}
            ],
        }
        headers = {**bearer(newborn["guardian"]), "HTTP_IDEMPOTENCY_KEY": "api-1"}
        created = api.post(
            "/api/v1/bundle-cases", json.dumps(body), content_type="application/json", **headers
        )
        assert created.status_code == 201, created.content
        data = created.json()
        assert [c["status"] for c in data["children"]] == [
            "submitted",
            "submitted",
            "waiting",
            "waiting",
        ]
        assert data["children"][2]["waiting_for"] == ["出生医学证明签发"]
        replay = api.post(
            "/api/v1/bundle-cases", json.dumps(body), content_type="application/json", **headers
        )
        assert (replay.status_code, replay.json()["id"]) == (200, data["id"])
        mine = api.get("/api/v1/bundle-cases", **bearer(newborn["guardian"])).json()
        assert [b["id"] for b in mine["items"]] == [data["id"]]
        detail = api.get(f"/api/v1/bundle-cases/{data['id']}", **bearer(newborn["guardian"]))
        assert detail.status_code == 200
        other = api.get(f"/api/v1/bundle-cases/{data['id']}", **bearer(newborn["other_citizen"]))
        assert other.status_code == 404
        assert api.get(f"/api/v1/bundle-cases/{data['id']}").status_code == 401

    def test_invalid_submission_is_422(self, newborn: dict[str, Any], api: Any) -> None:
        body = {"bundle_code": "newborn", "form": {"child.name": "张小宝"}, "materials": []}
        response = api.post(
            "/api/v1/bundle-cases",
            json.dumps(body),
            content_type="application/json",
            **bearer(newborn["guardian"]),
        )
        assert response.status_code == 422
        assert {"child.birth_date", "B01", "item1__hospital"} <= set(response.json()["fields"])
        assert not BundleCase.objects.exists()

    def test_staff_cannot_submit(self, newborn: dict[str, Any], api: Any) -> None:
        clerk, _ = newborn["staff"]["police"]
        body = {"bundle_code": "newborn", "form": _form(newborn), "materials": []}
        response = api.post(
            "/api/v1/bundle-cases",
            json.dumps(body),
            content_type="application/json",
            **bearer(clerk),
        )
        assert response.status_code == 403


# ---------------------------------------------------------------- 情形引导 (situations)

QUESTIONS = [
    QuestionSpec("settle_here", "新生儿是否在本市落户？"),
    QuestionSpec("vaccinate_at", "在哪里接种疫苗？", SituationKind.CHOICE, ("本市", "外地")),
]
# certificate, vaccination, household (needs certificate), enrolment (needs household)
CONDITIONS: list[dict[str, list[str]]] = [
    {},
    {"vaccinate_at": ["本市"]},
    {"settle_here": ["是"]},
    {"settle_here": ["是"]},
]


def _resave(newborn: dict[str, Any], conditions: list[Any], questions: Any = None) -> Bundle:
    bundle = newborn["bundle"]
    rows = list(bundle.items.select_related("item").order_by("order"))
    return bundle_save(
        code="newborn",
        name=bundle.name,
        division=bundle.division,
        lead_department=bundle.lead_department,
        items=[row.item for row in rows],
        dependencies=[
            DependencySpec(0, 2, ("child.birth_certificate_number",)),
            DependencySpec(2, 3, ("child.household_registration_number",)),
        ],
        actor="test",
        questions=QUESTIONS if questions is None else questions,
        conditions=conditions,
    )


@pytest.fixture
def situated(newborn: dict[str, Any]) -> dict[str, Any]:
    _resave(newborn, CONDITIONS)
    return newborn


ALL_APPLY = {"settle_here": "是", "vaccinate_at": "本市"}
ONLY_CERTIFICATE = {"settle_here": "否", "vaccinate_at": "外地"}


class TestSituations:
    def test_conditions_must_name_existing_questions_and_options(
        self, newborn: dict[str, Any]
    ) -> None:
        refusals = {
            "unknown question": [{}, {"vaccinate_where": ["本市"]}, {}, {}],
            "unknown option": [{}, {"vaccinate_at": ["香港"]}, {}, {}],
            "yes/no takes 是/否": [{}, {}, {"settle_here": ["yes"]}, {"settle_here": ["yes"]}],
            "no options": [{}, {"vaccinate_at": []}, {}, {}],
        }
        codes = {
            "unknown question": "bundle_condition_unknown_question",
            "no options": "bundle_condition_no_options",
        }
        for reason, conditions in refusals.items():
            with pytest.raises(InvalidInput) as caught:
                _resave(newborn, conditions)
            assert caught.value.code == codes.get(reason, "bundle_condition_invalid"), reason
        with pytest.raises(InvalidInput) as caught:
            _resave(
                newborn, [{}] * 4, [QuestionSpec("q", "一个选项？", SituationKind.CHOICE, ("甲",))]
            )
        assert caught.value.code == "bundle_question_invalid"
        with pytest.raises(InvalidInput) as caught:
            _resave(newborn, [{}] * 4, [QuestionSpec("Bad Code", "问题？")])
        assert caught.value.code == "bundle_question_code_invalid"
        # nothing was saved by the refusals
        bundle = Bundle.objects.get(code="newborn")
        assert not bundle.questions.exists()
        assert all(row.condition == {} for row in bundle.items.all())

    def test_an_item_may_not_apply_without_an_item_it_depends_on(
        self, newborn: dict[str, Any]
    ) -> None:
        # The household registration needs the birth certificate: it may not apply when the
        # certificate does not; and the enrolment needs the household registration.
        with pytest.raises(InvalidInput) as caught:
            _resave(newborn, [{"vaccinate_at": ["本市"]}, {}, {}, {}])
        assert caught.value.code == "bundle_condition_inconsistent"
        assert "“出生户口登记”依赖“出生医学证明签发”" in caught.value.message
        with pytest.raises(InvalidInput) as caught:
            _resave(newborn, [{}, {}, {"settle_here": ["是"]}, {}])
        assert "“城乡居民医保参保登记”依赖“出生户口登记”" in caught.value.message
        # A tighter condition downstream is consistent; an unrestricted upstream condition too.
        _resave(
            newborn,
            [{"vaccinate_at": ["本市", "外地"]}, {}, {"settle_here": ["是"]},
             {"settle_here": ["是"], "vaccinate_at": ["本市"]}],
        )  # fmt: skip
        rows = list(Bundle.objects.get(code="newborn").items.order_by("order"))
        assert rows[0].condition == {"vaccinate_at": ["本市", "外地"]}
        assert rows[3].condition == {"settle_here": ["是"], "vaccinate_at": ["本市"]}

    def test_the_selection_and_its_promised_time_follow_the_answers(
        self, situated: dict[str, Any]
    ) -> None:
        bundle = bundle_get(code="newborn")
        everything = bundle_form(bundle, answers=ALL_APPLY)
        assert [p.name for p in everything.parts] == [
            "出生医学证明签发", "预防接种证办理", "出生户口登记", "城乡居民医保参保登记",
        ]  # fmt: skip
        assert (everything.critical.promised_days, everything.critical.separate_days) == (4, 5)
        only = bundle_form(bundle, answers=ONLY_CERTIFICATE)
        assert [p.name for p in only.parts] == ["出生医学证明签发"]
        assert [p.name for p in only.excluded] == [
            "预防接种证办理", "出生户口登记", "城乡居民医保参保登记",
        ]  # fmt: skip
        assert (only.critical.promised_days, only.critical.separate_days) == (1, 1)
        # Field names and material codes do not depend on the selection.
        assert "item1__hospital" in only.schema["properties"]
        assert "item3__hospital" not in only.schema["properties"]
        assert [m.code for m in only.materials] == [m.code for m in everything.materials]

    def test_the_guide_api_lists_the_questions_and_answers_them(
        self, situated: dict[str, Any], api: Any
    ) -> None:
        url = "/api/v1/catalog/bundles/newborn"
        guide = api.get(url).json()
        assert [(q["code"], q["kind"], q["choices"]) for q in guide["questions"]] == [
            ("settle_here", "yes_no", ["是", "否"]),
            ("vaccinate_at", "choice", ["本市", "外地"]),
        ]
        assert guide["situation"] == {} and guide["not_applicable"] == []
        assert len(guide["parts"]) == 4 and guide["parts"][2]["condition"] == {
            "settle_here": ["是"]
        }
        only = api.get(url, {"answer": ["settle_here:否", "vaccinate_at:外地"]}).json()
        assert only["situation"] == ONLY_CERTIFICATE
        assert [p["name"] for p in only["parts"]] == ["出生医学证明签发"]
        assert [p["name"] for p in only["not_applicable"]] == [
            "预防接种证办理", "出生户口登记", "城乡居民医保参保登记",
        ]  # fmt: skip
        assert (only["promised_days"], only["separate_days"], only["dependencies"]) == (1, 1, [])
        assert "item3__hospital" not in only["form_schema"]["properties"]
        for answers, field in (
            (["settle_here"], None),
            (["settle_here:也许", "vaccinate_at:本市"], "situation__settle_here"),
            (["settle_here:是"], "situation__vaccinate_at"),
            (["settle_here:是", "vaccinate_at:本市", "pets:是"], "situation"),
        ):
            response = api.get(url, {"answer": answers})
            assert response.status_code == 422, answers
            body = response.json()
            assert body["code"] == "situation_invalid"
            if field:
                assert field in body["fields"], (answers, body)

    def test_different_answers_create_different_children(self, situated: dict[str, Any]) -> None:
        guardian = situated["guardian"]
        everything = bundle_submit(
            actor=guardian,
            bundle_code="newborn",
            form_data=_form(situated),
            materials=[UploadedMaterial("B01", "id.pdf", f.PDF)],
            situation=ALL_APPLY,
        ).bundle_case
        only = bundle_submit(
            actor=guardian,
            bundle_code="newborn",
            form_data={k: v for k, v in _form(situated).items() if k != "item3__hospital"},
            materials=[UploadedMaterial("B01", "id.pdf", f.PDF)],
            situation=ONLY_CERTIFICATE,
        ).bundle_case
        assert set(_children(everything)) == {
            "出生医学证明签发", "预防接种证办理", "出生户口登记", "城乡居民医保参保登记",
        }  # fmt: skip
        assert set(_children(only)) == {"出生医学证明签发"}
        assert _children(only)["出生医学证明签发"].status == CaseStatus.SUBMITTED
        only.refresh_from_db()
        assert only.form_data["_situation"] == ONLY_CERTIFICATE
        view = bundle_case_view(only, clock.today())
        assert "_situation" not in view["form"]
        assert view["situation"] == [
            {"code": "settle_here", "question": "新生儿是否在本市落户？", "answer": "否"},
            {"code": "vaccinate_at", "question": "在哪里接种疫苗？", "answer": "外地"},
        ]
        assert view["not_applicable"] == [
            "预防接种证办理", "出生户口登记", "城乡居民医保参保登记",
        ]  # fmt: skip

    def test_answers_are_required_and_checked(self, situated: dict[str, Any]) -> None:
        for situation, field in (
            (None, "situation__settle_here"),
            ({"settle_here": "是"}, "situation__vaccinate_at"),
            ({**ALL_APPLY, "settle_here": "也许"}, "situation__settle_here"),
            ({**ALL_APPLY, "extra": "是"}, "situation"),
        ):
            with pytest.raises(InvalidInput) as caught:
                bundle_submit(
                    actor=situated["guardian"],
                    bundle_code="newborn",
                    form_data=_form(situated),
                    materials=[UploadedMaterial("B01", "id.pdf", f.PDF)],
                    situation=situation,
                )
            assert caught.value.code == "situation_invalid"
            assert field in caught.value.fields
        assert not BundleCase.objects.exists() and not Case.objects.exists()

    def test_api_ignores_a_client_sent_item_list(self, situated: dict[str, Any], api: Any) -> None:
        every_item = list(situated["bundle"].items.values_list("pk", flat=True))
        body = {
            "bundle_code": "newborn",
            "situation": ONLY_CERTIFICATE,
            "items": every_item,
            "bundle_items": every_item,
            "form": {k: v for k, v in _form(situated).items() if k != "item3__hospital"},
            "materials": [
                {"material_code": "B01", "filename": "id.pdf", "content_base64": f.b64(f.PDF)}
            ],
        }
        response = api.post(
            "/api/v1/bundle-cases",
            data=json.dumps(body),
            content_type="application/json",
            **bearer(situated["guardian"]),
        )
        assert response.status_code == 201, response.content
        answer = response.json()
        assert [c["item_name"] for c in answer["children"]] == ["出生医学证明签发"]
        assert answer["not_applicable"] == [
            "预防接种证办理", "出生户口登记", "城乡居民医保参保登记",
        ]  # fmt: skip
        assert [a["answer"] for a in answer["situation"]] == ["否", "外地"]
        assert Case.objects.count() == 1
        # A field of an item that does not apply is not part of the form.
        body["form"] = _form(situated)
        refused = api.post(
            "/api/v1/bundle-cases",
            data=json.dumps(body),
            content_type="application/json",
            **bearer(situated["guardian"]),
        )
        assert refused.status_code == 422
        assert "item3__hospital" in refused.json()["fields"]
        missing = api.post(
            "/api/v1/bundle-cases",
            data=json.dumps({**body, "situation": {}}),
            content_type="application/json",
            **bearer(situated["guardian"]),
        )
        assert missing.status_code == 422 and missing.json()["code"] == "situation_invalid"
        assert Case.objects.count() == 1

    def test_correction_uses_the_children_of_the_situation(self, situated: dict[str, Any]) -> None:
        only = bundle_submit(
            actor=situated["guardian"],
            bundle_code="newborn",
            form_data={k: v for k, v in _form(situated).items() if k != "item3__hospital"},
            materials=[UploadedMaterial("B01", "id.pdf", f.PDF)],
            situation=ONLY_CERTIFICATE,
        ).bundle_case
        certificate = _children(only)["出生医学证明签发"]
        clerk, _ = situated["staff"]["health"]
        case_transition(
            actor=clerk, case_id=certificate.pk, action="request_correction", comment="请补充"
        )
        bundle_resubmit(
            actor=situated["guardian"],
            bundle_case_id=only.pk,
            form_data={"item1__hospital": "广州市第一人民医院"},
            materials=[],
        )
        certificate = Case.objects.select_related("application").get(pk=certificate.pk)
        assert certificate.status == CaseStatus.RESUBMITTED
        assert certificate.application.form_data["hospital"] == "广州市第一人民医院"
        only.refresh_from_db()
        assert only.form_data["_situation"] == ONLY_CERTIFICATE


# ---------------------------------------------------------------- prefill and enterprises

SHARED_ITEM_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["reason", "applicant_name"],
    "properties": {
        "reason": _text("申请事由"),
        "applicant_name": _text("申请人姓名", "person.name"),
        "applicant_id": _text("申请人公民身份号码", "person.id_number", format="id_number"),
    },
}
ENTERPRISE_ITEM_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["company", "uscc"],
    "properties": {
        "company": _text("企业名称", "enterprise.name"),
        "uscc": _text("统一社会信用代码", "enterprise.uscc"),
    },
}


def _publish_with_elements(item: Any, elements: list[str]) -> Any:
    Material.objects.filter(item=item, code="M01").update(
        elements=elements, replaceable_by_shared_data=True
    )
    item_publish(item=item, actor="test")
    item.refresh_from_db()
    return item


def _grant(requester: Any, steward: Any, item: Any, elements: list[str]) -> None:
    grant = grant_request(
        actor=requester, purpose=item.implementation_code, elements=elements, reason="核验身份"
    )
    grant_decide(actor=steward, grant_id=grant.pk, approve=True)


@pytest.fixture
def shared_bundle(world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Two departments, each with an item whose name and ID number fields and identity card
    the population registry can supply, each holding its own grant; a bundle of the two, and
    an enterprise bundle (清税, 社保注销) that an agent applies for."""
    exchange_cache_clear()
    police = world["department"]
    market = f.department("440100", "广州市市场监督管理局")
    tax = f.department("440100", "国家税务总局广州市税务局")
    registries_seed(
        owners={
            "population": police,
            "legal_entity": market,
            "social_security": market,
            "license_library": market,
        }
    )
    person = ["person.id_number", "person.name"]
    first = _publish_with_elements(
        f.item(market, name="个体工商户登记", form_schema=SHARED_ITEM_FORM), person
    )
    second = _publish_with_elements(
        f.item(tax, name="税务登记", form_schema=SHARED_ITEM_FORM), person
    )
    steward = f.staff(police, [StaffRole.ADMIN])
    market_steward = f.staff(market, [StaffRole.ADMIN])
    market_reviewer = f.staff(market, [StaffRole.REVIEW, StaffRole.DECISION])
    tax_reviewer = f.staff(tax, [StaffRole.REVIEW, StaffRole.DECISION])
    _grant(market_reviewer, steward, first, person)
    _grant(tax_reviewer, steward, second, person)
    division = Division.objects.get(code="440100")
    bundle_save(
        code="shared",
        name="开办个体工商户一件事",
        division=division,
        lead_department=market,
        items=[first, second],
        dependencies=[],
        actor="test",
    )
    citizen = world["citizen"].citizen
    population_record_put(
        id_number=citizen.id_number,
        name=citizen.real_name,
        birth_date=date(1990, 1, 2),
        gender="男",
        household_address="广东省广州市天河区天河路100号",
        marital_status="已婚",
    )
    # 企业注销: items serving enterprises, their fields from the legal-entity registry
    company = ["enterprise.uscc", "enterprise.name"]
    clearance = _publish_with_elements(
        f.item(tax, name="清税申报", form_schema=ENTERPRISE_ITEM_FORM, objects=["enterprise"]),
        company,
    )
    social = _publish_with_elements(
        f.item(
            market,
            name="社会保险登记注销",
            form_schema=ENTERPRISE_ITEM_FORM,
            objects=["enterprise"],
        ),
        company,
    )
    _grant(tax_reviewer, market_steward, clearance, company)
    _grant(market_reviewer, market_steward, social, company)
    bundle_save(
        code="company_exit",
        name="企业注销登记一件事",
        division=division,
        lead_department=market,
        items=[clearance, social],
        dependencies=[],
        actor="test",
    )
    uscc = "91440101MA59DEMX1" + f.uscc_checksum("91440101MA59DEMX1")
    agent = world["other_citizen"]
    enterprise_register(
        uscc=uscc, name="示例科技有限公司", legal_representative="王芳", agent=agent.citizen
    )
    legal_entity_record_put(
        uscc=uscc,
        name="示例科技有限公司",
        legal_representative="王芳",
        registered_capital=Decimal("100"),
        industry_code="6510",
        status="存续",
    )
    yield {**world, "first": first, "second": second, "uscc": uscc, "agent": agent}
    exchange_cache_clear()


class TestPrefillAndEnterprises:
    def test_zero_material_bundle_with_records_linked_to_each_child(
        self, shared_bundle: dict[str, Any]
    ) -> None:
        citizen = shared_bundle["citizen"]
        result = bundle_submit(
            actor=citizen,
            bundle_code="shared",
            form_data={"item1__reason": "开店", "item2__reason": "开店", "person.name": "别人"},
            materials=[],
            use_shared_data=True,
        )
        children = _children(result.bundle_case)
        assert set(children) == {"个体工商户登记", "税务登记"}
        for name, case in children.items():
            application = case.application
            assert application.form_data["applicant_name"] == "李明"  # the registry wins
            assert application.form_data["applicant_id"] == citizen.citizen.id_number
            assert not application.materials.exists()  # 居民身份证 derived: 零材料
            evidence = {
                row.material_code or row.field_name for row in application.shared_data.all()
            }
            assert evidence == {"M01", "applicant_name", "applicant_id"}, name
            # each item's own lookup, tied to its own child case
            records = DataUseRecord.objects.filter(case_id=str(case.pk))
            assert records.count() == 1
            assert records.get().case_number == case.case_number
            assert records.get().purpose == case.item.implementation_code
        assert Consent.objects.filter(user=citizen.user).count() == 2
        assert DataUseRecord.objects.filter(case_id="").count() == 0

    def test_without_consent_the_identity_card_must_be_uploaded(
        self, shared_bundle: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            bundle_submit(
                actor=shared_bundle["citizen"],
                bundle_code="shared",
                form_data={"item1__reason": "开店", "item2__reason": "开店", "person.name": "李明"},
                materials=[],
            )
        assert "B01" in caught.value.fields
        assert not DataUseRecord.objects.exists() and not BundleCase.objects.exists()

    def test_enterprise_agent_applies_for_the_enterprise(
        self, shared_bundle: dict[str, Any]
    ) -> None:
        agent, uscc = shared_bundle["agent"], shared_bundle["uscc"]
        with pytest.raises(InvalidInput) as caught:  # these items serve enterprises only
            bundle_submit(actor=agent, bundle_code="company_exit", form_data={}, materials=[])
        assert caught.value.code == "applicant_type_not_served"
        with pytest.raises(PermissionDenied):  # not an agent of that enterprise
            bundle_submit(
                actor=shared_bundle["citizen"],
                bundle_code="company_exit",
                form_data={},
                materials=[],
                enterprise_uscc=uscc,
                use_shared_data=True,
            )
        assert not BundleCase.objects.exists()
        bundle_case = bundle_submit(
            actor=agent,
            bundle_code="company_exit",
            form_data={},
            materials=[],
            enterprise_uscc=uscc,
            use_shared_data=True,
        ).bundle_case
        assert bundle_case.enterprise is not None and bundle_case.enterprise.uscc == uscc
        for case in _children(bundle_case).values():
            application = case.application
            assert application.enterprise_id == bundle_case.enterprise_id
            assert application.applicant_name == "示例科技有限公司"
            assert application.applicant_id_number == uscc
            assert application.form_data == {"company": "示例科技有限公司", "uscc": uscc}
            assert DataUseRecord.objects.filter(case_id=str(case.pk)).count() == 1
