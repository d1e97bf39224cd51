"""JSON API: auth, catalog, applications, staff queue and transitions, error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from tongban.cases.models import Case, CaseStatus
from tongban.core.models import AuditRecord

from . import factories as f
from .conftest import bearer

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def application_body(world: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "item_code": world["item"].implementation_code,
        "form": dict(f.VALID_FORM),
        "materials": [
            {"material_code": "M01", "filename": "id.pdf", "content_base64": f.b64(f.PDF)}
        ],
    }
    body.update(overrides)
    return body


def test_healthz(api: Client) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_openapi_document_lists_the_endpoints(api: Client) -> None:
    document = api.get("/api/openapi.json").json()
    paths = set(document["paths"])
    assert {
        "/api/v1/auth/token",
        "/api/v1/catalog/items",
        "/api/v1/catalog/items/{code}",
        "/api/v1/applications",
        "/api/v1/applications/{application_id}",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}/transitions",
    } <= paths
    assert api.get("/api/docs").status_code == 200


class TestAuth:
    def test_citizen_token(self, world: dict[str, Any], api: Client) -> None:
        response = post(
            api,
            "/api/v1/auth/token",
            {"username": world["citizen"].citizen.phone, "password": f.PASSWORD},
        )
        assert response.status_code == 200
        token = response.json()["access_token"]
        assert (
            api.get("/api/v1/applications", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
        )

    def test_wrong_password(self, world: dict[str, Any], api: Client) -> None:
        response = post(
            api,
            "/api/v1/auth/token",
            {"username": world["citizen"].citizen.phone, "password": "nope"},
        )
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"

    def test_staff_need_totp(self, world: dict[str, Any], api: Client) -> None:
        username = world["clerk"].user.username
        response = post(api, "/api/v1/auth/token", {"username": username, "password": f.PASSWORD})
        assert (response.status_code, response.json()["code"]) == (401, "otp_invalid")
        response = post(
            api,
            "/api/v1/auth/token",
            {"username": username, "password": f.PASSWORD, "otp": f.otp_now()},
        )
        assert response.status_code == 200

    def test_lockout_after_repeated_failures(
        self, world: dict[str, Any], api: Client, settings: Any
    ) -> None:
        phone = world["citizen"].citizen.phone
        for _ in range(settings.AXES_FAILURE_LIMIT):
            post(api, "/api/v1/auth/token", {"username": phone, "password": "wrong"})
        response = post(api, "/api/v1/auth/token", {"username": phone, "password": f.PASSWORD})
        assert response.status_code == 429
        assert response.json()["code"] == "account_locked"

    def test_missing_token(self, world: dict[str, Any], api: Client) -> None:
        response = api.get("/api/v1/cases")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"

    def test_every_login_is_audited(self, world: dict[str, Any], api: Client) -> None:
        before = AuditRecord.objects.filter(action="login").count()
        post(
            api,
            "/api/v1/auth/token",
            {"username": world["citizen"].citizen.phone, "password": "bad"},
        )
        post(
            api,
            "/api/v1/auth/token",
            {"username": world["citizen"].citizen.phone, "password": f.PASSWORD},
        )
        outcomes = list(
            AuditRecord.objects.filter(action="login")
            .order_by("sequence")
            .values_list("outcome", flat=True)
        )
        assert outcomes[before:] == ["failure", "success"]
        assert world["citizen"].citizen.phone not in str(
            list(AuditRecord.objects.values_list("actor", "detail"))
        )


class TestCatalog:
    def test_list_filters_by_region_and_query(self, world: dict[str, Any], api: Client) -> None:
        zhejiang_item = f.item(f.department("330100", "杭州市公安局"), name="杭州户口迁入")
        everything = api.get("/api/v1/catalog/items").json()
        assert everything["count"] == 2
        guangdong = api.get("/api/v1/catalog/items", {"region": "440000"}).json()
        assert [i["implementation_code"] for i in guangdong["items"]] == [
            world["item"].implementation_code
        ]
        hangzhou = api.get("/api/v1/catalog/items", {"q": "杭州"}).json()
        assert [i["implementation_code"] for i in hangzhou["items"]] == [
            zhejiang_item.implementation_code
        ]

    def test_unknown_region(self, world: dict[str, Any], api: Client) -> None:
        response = api.get("/api/v1/catalog/items", {"region": "999999"})
        assert (response.status_code, response.json()["code"]) == (404, "region_not_found")

    def test_detail(self, world: dict[str, Any], api: Client) -> None:
        item = world["item"]
        body = api.get(f"/api/v1/catalog/items/{item.implementation_code}").json()
        assert body["name"] == item.name
        assert body["committed_limit_days"] == 5
        assert [m["code"] for m in body["materials"]] == ["M01", "M02"]
        assert body["form_schema"]["required"] == ["reason", "move_date"]

    def test_missing_item(self, world: dict[str, Any], api: Client) -> None:
        response = api.get("/api/v1/catalog/items/nope")
        assert response.status_code == 404
        assert response.json() == {
            "code": "item_not_found",
            "message": "事项 nope 不存在或未发布",
            "fields": {},
        }

    def test_errors_in_english(self, world: dict[str, Any], api: Client) -> None:
        api.cookies["django_language"] = "en"
        missing = api.get("/api/v1/catalog/items/nope").json()
        assert missing["message"] == "Service nope does not exist or is not published"
        region = api.get("/api/v1/catalog/items", {"region": "999999"}).json()
        assert (region["code"], region["message"]) == (
            "region_not_found",
            "There is no division 999999",
        )

    def test_list_query_count_is_constant(
        self, world: dict[str, Any], api: Client, django_assert_max_num_queries: Any
    ) -> None:
        for _ in range(5):
            f.item(world["department"])
        with django_assert_max_num_queries(4):
            assert api.get("/api/v1/catalog/items").json()["count"] == 6


class TestApplications:
    def test_submit_and_read_back(self, world: dict[str, Any], api: Client) -> None:
        headers = bearer(world["citizen"])
        response = post(api, "/api/v1/applications", application_body(world), **headers)
        assert response.status_code == 201, response.content
        body = response.json()
        case = body["cases"][0]
        assert case["status"] == "submitted"
        assert case["timeline"][0]["action"] == "submit"
        assert case["materials"][0]["sha256"]
        detail = api.get(f"/api/v1/applications/{body['id']}", **headers)
        assert detail.json()["cases"][0]["case_number"] == case["case_number"]
        assert (
            api.get(
                f"/api/v1/applications/{body['id']}", **bearer(world["other_citizen"])
            ).status_code
            == 404
        )

    def test_idempotency_key_header(self, world: dict[str, Any], api: Client) -> None:
        headers = {**bearer(world["citizen"]), "HTTP_IDEMPOTENCY_KEY": "retry-me"}
        first = post(api, "/api/v1/applications", application_body(world), **headers)
        second = post(api, "/api/v1/applications", application_body(world), **headers)
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["id"] == second.json()["id"]
        assert Case.objects.count() == 1
        conflict = post(
            api,
            "/api/v1/applications",
            application_body(world, form={**f.VALID_FORM, "reason": "改"}),
            **headers,
        )
        assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_key_reused")

    def test_field_errors(self, world: dict[str, Any], api: Client) -> None:
        response = post(
            api,
            "/api/v1/applications",
            application_body(world, form={"reason": ""}),
            **bearer(world["citizen"]),
        )
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "form_invalid"
        assert body["fields"]["move_date"] == "请填写“迁入日期”"
        api.cookies["django_language"] = "en"
        english = post(
            api,
            "/api/v1/applications",
            application_body(world, form={"reason": "", "household_size": "x"}),
            **bearer(world["citizen"]),
        ).json()
        assert english["code"] == "form_invalid"
        assert english["fields"]["move_date"] == 'Enter "迁入日期"'
        assert english["fields"]["household_size"] == "家庭人数: Enter a whole number"

    @pytest.mark.parametrize(
        "body",
        [
            {"item_code": 5},
            {"item_code": "x", "form": []},
            {"item_code": "x", "materials": [{"material_code": "M01"}]},
            "not json",
        ],
    )
    def test_malformed_bodies_are_422(self, world: dict[str, Any], api: Client, body: Any) -> None:
        data = body if isinstance(body, str) else json.dumps(body)
        response = api.post(
            "/api/v1/applications",
            data=data,
            content_type="application/json",
            **bearer(world["citizen"]),
        )
        assert response.status_code in (400, 422)
        assert set(response.json()) == {"code", "message", "fields"}

    def test_bad_base64(self, world: dict[str, Any], api: Client) -> None:
        body = application_body(
            world, materials=[{"material_code": "M01", "filename": "a", "content_base64": "***"}]
        )
        response = post(api, "/api/v1/applications", body, **bearer(world["citizen"]))
        assert (response.status_code, response.json()["code"]) == (422, "material_encoding")


class TestStaffApi:
    def _submit(self, world: dict[str, Any], api: Client) -> str:
        response = post(
            api, "/api/v1/applications", application_body(world), **bearer(world["citizen"])
        )
        return response.json()["cases"][0]["id"]

    def test_queue_is_masked_and_scoped(self, world: dict[str, Any], api: Client) -> None:
        self._submit(world, api)
        queue = api.get("/api/v1/cases", **bearer(world["clerk"])).json()
        assert queue["count"] == 1
        row = queue["items"][0]
        assert row["applicant_name"] == "李*"
        citizen = world["citizen"].citizen
        assert (
            row["applicant_id_number"]
            == citizen.id_number[:6] + "********" + citizen.id_number[-4:]
        )
        for outsider in ("other_department_staff", "other_region_staff", "narrow_scope_staff"):
            assert api.get("/api/v1/cases", **bearer(world[outsider])).json()["count"] == 0
        assert api.get("/api/v1/cases", **bearer(world["citizen"])).status_code == 403

    def test_errors_are_shown_in_the_language_asked_for(
        self, world: dict[str, Any], api: Client
    ) -> None:
        english = Client()
        english.cookies["django_language"] = "en"
        with translation.override("zh-hans"):  # the request's language stays in the request
            refused = english.get("/api/v1/cases", **bearer(world["citizen"]))
            missing = post(
                english,
                "/api/v1/applications",
                application_body(world, materials=[]),
                **bearer(world["citizen"]),
            )
        assert refused.json() == {
            "code": "staff_required",
            "message": "Only staff can see the case queue",
            "fields": {},
        }
        assert missing.json()["code"] == "material_missing"
        assert missing.json()["fields"] == {"M01": "Required: upload this document"}
        chinese = api.get("/api/v1/cases", **bearer(world["citizen"])).json()
        assert chinese["message"] == "仅工作人员可查看办件队列"

    def test_detail_unmasked_for_handler_and_audited(
        self, world: dict[str, Any], api: Client
    ) -> None:
        case_id = self._submit(world, api)
        response = api.get(f"/api/v1/cases/{case_id}", **bearer(world["clerk"]))
        assert response.json()["applicant_id_number"] == world["citizen"].citizen.id_number
        assert response.json()["allowed_actions"] == ["accept", "reject", "request_correction"]
        record = AuditRecord.objects.filter(action="case.view_unmasked").get()
        assert record.object_id == case_id
        assert record.actor == f"staff:{world['clerk'].user.pk}"
        assert (
            api.get(
                f"/api/v1/cases/{case_id}", **bearer(world["other_department_staff"])
            ).status_code
            == 404
        )

    def test_transitions_end_to_end(self, world: dict[str, Any], api: Client) -> None:
        case_id = self._submit(world, api)
        url = f"/api/v1/cases/{case_id}/transitions"
        assert (
            post(api, url, {"action": "accept"}, **bearer(world["clerk"])).json()["status"]
            == "accepted"
        )
        reviewer = bearer(world["reviewer"])
        for action, status in (
            ("start_review", "under_review"),
            ("approve", "approved"),
            ("complete", "completed"),
        ):
            response = post(api, url, {"action": action, "comment": "同意"}, **reviewer)
            assert (response.status_code, response.json()["status"]) == (200, status)
        mine = api.get("/api/v1/applications", **bearer(world["citizen"])).json()["items"][0]
        assert mine["status"] == "completed"

    def test_illegal_and_unknown_actions(self, world: dict[str, Any], api: Client) -> None:
        case_id = self._submit(world, api)
        url = f"/api/v1/cases/{case_id}/transitions"
        illegal = post(api, url, {"action": "complete"}, **bearer(world["reviewer"]))
        assert (illegal.status_code, illegal.json()["code"]) == (409, "illegal_transition")
        unknown = post(api, url, {"action": "delete"}, **bearer(world["clerk"]))
        assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_action")
        assert Case.objects.get(pk=case_id).status == CaseStatus.SUBMITTED

    def test_mass_assignment_is_ignored(self, world: dict[str, Any], api: Client) -> None:
        body = application_body(world, status="completed", department="x", applicant="y")
        response = post(api, "/api/v1/applications", body, **bearer(world["citizen"]))
        assert response.status_code == 201
        assert response.json()["cases"][0]["status"] == "submitted"
        assert response.json()["cases"][0]["department"] == world["department"].name

    def test_other_region_cannot_act(self, world: dict[str, Any], api: Client) -> None:
        case_id = self._submit(world, api)
        response = post(
            api,
            f"/api/v1/cases/{case_id}/transitions",
            {"action": "accept"},
            **bearer(world["other_region_staff"]),
        )
        assert response.status_code == 404
        assert Case.objects.get(pk=case_id).status == CaseStatus.SUBMITTED


def test_queue_pages_in_the_database_with_constant_queries(
    world: dict[str, Any], api: Client, django_assert_max_num_queries: Any
) -> None:
    import time_machine

    from tongban.cases.submission.services import (
        UploadedMaterial,
        application_submit,
        case_transition,
    )

    with time_machine.travel("2026-09-30 10:00 +0800", tick=False):
        cases = [
            application_submit(
                actor=world["citizen"],
                item_code=world["item"].implementation_code,
                form_data=dict(f.VALID_FORM),
                materials=[UploadedMaterial("M01", "a.pdf", f.PDF)],
                idempotency_key=str(index),
            ).case
            for index in range(6)
        ]
        for case in cases[:4]:
            case_transition(actor=world["clerk"], case_id=case.pk, action="accept")
    headers = bearer(world["clerk"])
    with time_machine.travel("2026-10-14 10:00 +0800", tick=False):
        with django_assert_max_num_queries(6):
            red = api.get("/api/v1/cases", {"colour": "red", "limit": 2}, **headers).json()
        none = api.get("/api/v1/cases", {"colour": "none"}, **headers).json()
        bad = api.get("/api/v1/cases", {"colour": "purple"}, **headers)
    assert red["count"] == 4 and len(red["items"]) == 2
    assert {row["deadline_colour"] for row in red["items"]} == {"red"}
    assert none["count"] == 2
    assert bad.status_code == 422


def test_oversized_body_is_413(world: dict[str, Any], api: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = application_body(world, form={**f.VALID_FORM, "reason": "x" * 20_000})
    response = post(api, "/api/v1/applications", body, **bearer(world["citizen"]))
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_schema_names_are_unique() -> None:
    """django-ninja names OpenAPI components after the classes: two schemas of one name
    silently replace each other in the document (and break clients and the fuzzer)."""
    from collections import Counter

    from ninja import Schema

    import tongban.config.api  # noqa: F401 — imports every router and its schemas

    def walk(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *walk(sub))]

    ours = {c for c in walk(Schema) if c.__module__.startswith("tongban.")}
    counts = Counter(c.__name__ for c in ours)
    assert [name for name, n in counts.items() if n > 1] == []
