"""Data-sharing exchange (issue 5): grants, consent, minimum necessary, masking, verification,
refusal reasons, the remote adapter's failure modes, anomaly rules and the citizen's record."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from tongban.cases.models import Case, SharedDataEvidence
from tongban.cases.submission.services import UploadedMaterial, application_submit, case_transition
from tongban.catalog.models import Material
from tongban.catalog.services import item_publish
from tongban.core.audit import audit_verify
from tongban.core.errors import DomainError
from tongban.core.models import AuditRecord
from tongban.exchange import monitoring
from tongban.exchange.models import (
    AlertRule,
    Consent,
    DataUseRecord,
    Grant,
    GrantStatus,
    LookupOutcome,
    Registry,
    SecurityAlert,
)
from tongban.exchange.prefill import consent_ensure, prefill
from tongban.exchange.registries import (
    HttpRegistry,
    RegistryAnswer,
    RegistryTimeout,
    RegistryUnavailable,
    provider_register,
    provider_unregister,
)
from tongban.exchange.selectors import data_use_for_citizen, sharing_availability
from tongban.exchange.services import (
    Caller,
    consent_give,
    consent_revoke,
    exchange_cache_clear,
    grant_decide,
    grant_request,
    legal_entity_record_put,
    lookup,
    population_record_put,
    registries_seed,
    system_credential_issue,
)
from tongban.identity.models import StaffRole
from tongban.identity.services import enterprise_register

from . import factories as f
from .conftest import bearer

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Wednesday, 10:00 in Guangzhou: a working day, inside working hours.
WORKING_TIME = datetime(2026, 3, 11, 10, 0, tzinfo=SHANGHAI)

SHARED_FORM: dict[str, Any] = {
    "type": "object",
    "title": "共享数据测试申请表",
    "required": ["reason"],
    "properties": {
        "reason": {"type": "string", "title": "申请事由", "maxLength": 50},
        "applicant_name": {"type": "string", "title": "姓名", "x-element": "person.name"},
        "birth_date": {"type": "string", "title": "出生日期", "x-element": "person.birth_date"},
        "marital_status": {
            "type": "string",
            "title": "婚姻状况",
            "x-element": "person.marital_status",
        },
    },
}


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """The gateway caches catalog, keys and grants per process; tests roll the database back."""
    exchange_cache_clear()
    monitoring.calendar_cache_clear()
    yield
    exchange_cache_clear()


@pytest.fixture
def exchange(world: dict[str, Any]) -> dict[str, Any]:
    """The world plus registries owned by the police (population) and by a market regulator
    (legal entities), an item declaring person elements, a steward, a grant and a system key."""
    police = world["department"]
    market = f.department("440100", "广州市市场监督管理局")
    hrss = f.department("440100", "广州市人力资源和社会保障局")
    registries_seed(
        owners={
            "population": police,
            "legal_entity": market,
            "social_security": hrss,
            "license_library": market,
        }
    )
    item = f.item(police, form_schema=SHARED_FORM, name="共享数据测试事项")
    Material.objects.filter(item=item, code="M01").update(
        elements=["person.id_number", "person.name"], replaceable_by_shared_data=True
    )
    Material.objects.filter(item=item, code="M02").update(elements=["person.marital_status"])
    item_publish(item=item, actor="test")
    item.refresh_from_db()
    citizen = world["citizen"].citizen
    population_record_put(
        id_number=citizen.id_number,
        name=citizen.real_name,
        birth_date=date(1990, 1, 2),
        gender="男",
        household_address="广东省广州市天河区天河路100号",
        marital_status="已婚",
    )
    steward = f.staff(police, [StaffRole.ADMIN])
    market_steward = f.staff(market, [StaffRole.ADMIN])
    security = f.staff(police, [StaffRole.SECURITY])
    raw_key, _ = system_credential_issue(department=police, name="公安审批系统", actor="test")
    return {
        **world,
        "market": market,
        "shared_item": item,
        "steward": steward,
        "market_steward": market_steward,
        "security": security,
        "key": raw_key,
        "caller": Caller(police, "system:test"),
    }


def approve(
    ex: dict[str, Any],
    elements: list[str],
    *,
    plain: list[str] | None = None,
    expires_at: datetime | None = None,
) -> Grant:
    grant = grant_request(
        actor=ex["reviewer"],
        purpose=ex["shared_item"].implementation_code,
        elements=elements,
        reason="办理本事项需核验申请人身份",
        plain_elements=plain or [],
    )
    return grant_decide(actor=ex["steward"], grant_id=grant.pk, approve=True, expires_at=expires_at)


def ask(ex: dict[str, Any], elements: list[str], **extra: Any) -> Any:
    return lookup(
        caller=extra.pop("caller", ex["caller"]),
        subject=extra.pop("subject", ex["citizen"].citizen.id_number),
        elements=elements,
        purpose=extra.pop("purpose", ex["shared_item"].implementation_code),
        **extra,
    )


def refusal(ex: dict[str, Any], elements: list[str], **extra: Any) -> DomainError:
    before = DataUseRecord.objects.count()
    with pytest.raises(DomainError) as caught:
        ask(ex, elements, **extra)
    record = DataUseRecord.objects.latest("id")
    assert DataUseRecord.objects.count() == before + 1
    assert record.outcome in {LookupOutcome.REFUSED, LookupOutcome.FAILED}
    assert record.refusal_code == caught.value.code
    assert record.refusal_message == caught.value.message
    audit = AuditRecord.objects.filter(object_type="data_use_record", object_id=str(record.pk))
    assert audit.get().outcome in {"denied", "failure"}
    return caught.value


# ---------------------------------------------------------------- catalog


def test_resource_catalog_lists_owner_level_and_freshness(exchange: dict[str, Any]) -> None:
    response = Client().get("/api/v1/exchange/elements")
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()}
    assert rows["person.birth_date"]["owner_department"] == "广州市公安局"
    assert rows["person.birth_date"]["level"] == "general"
    assert rows["person.name"]["masked_by_default"] is True
    assert rows["enterprise.uscc"]["owner_department"] == "广州市市场监督管理局"
    assert rows["person.social_security_status"]["freshness_hours"] == 720
    assert registries_seed(owners={"population": exchange["department"]}) == 0  # idempotent


# ---------------------------------------------------------------- grants


def test_grant_approved_then_lookup_answers(exchange: dict[str, Any]) -> None:
    grant = approve(exchange, ["person.birth_date"])
    assert grant.status == GrantStatus.APPROVED and grant.expires_at is not None
    result = ask(exchange, ["person.birth_date"])
    assert result.found and result.values == {"person.birth_date": "1990-01-02"}
    assert result.is_fresh is True


def test_grant_refused_needs_a_reason_and_grants_nothing(exchange: dict[str, Any]) -> None:
    grant = grant_request(
        actor=exchange["reviewer"],
        purpose=exchange["shared_item"].implementation_code,
        elements=["person.birth_date"],
        reason="核验年龄",
    )
    with pytest.raises(DomainError) as caught:
        grant_decide(actor=exchange["steward"], grant_id=grant.pk, approve=False)
    assert caught.value.code == "note_required"
    grant_decide(actor=exchange["steward"], grant_id=grant.pk, approve=False, note="用途不明确")
    assert Grant.objects.get(pk=grant.pk).status == GrantStatus.REFUSED
    assert refusal(exchange, ["person.birth_date"]).code == "no_grant"


def test_only_the_owning_department_decides(exchange: dict[str, Any]) -> None:
    grant = grant_request(
        actor=exchange["reviewer"],
        purpose=exchange["shared_item"].implementation_code,
        elements=["person.birth_date"],
        reason="核验年龄",
    )
    with pytest.raises(DomainError) as caught:
        grant_decide(actor=exchange["market_steward"], grant_id=grant.pk, approve=True)
    assert caught.value.code == "grant_not_found"
    with pytest.raises(DomainError) as caught:
        grant_decide(actor=exchange["clerk"], grant_id=grant.pk, approve=True)
    assert caught.value.code == "grant_role_required"
    assert Grant.objects.get(pk=grant.pk).status == GrantStatus.REQUESTED


def test_grant_expires(exchange: dict[str, Any]) -> None:
    with time_machine.travel(WORKING_TIME, tick=False):
        approve(exchange, ["person.birth_date"], expires_at=WORKING_TIME + timedelta(days=1))
        assert ask(exchange, ["person.birth_date"]).found
    with time_machine.travel(WORKING_TIME + timedelta(days=2), tick=False):
        error = refusal(exchange, ["person.birth_date"])
    assert error.code == "grant_expired" and error.status == 403


def test_grant_request_is_limited_to_minimum_necessary(exchange: dict[str, Any]) -> None:
    with pytest.raises(DomainError) as caught:
        grant_request(
            actor=exchange["reviewer"],
            purpose=exchange["shared_item"].implementation_code,
            elements=["person.birth_date", "person.household_address"],
            reason="全部都要",
        )
    assert caught.value.code == "not_minimum_necessary"
    assert "person.household_address" in caught.value.message
    with pytest.raises(DomainError) as caught:
        grant_request(
            actor=exchange["other_department_staff"],
            purpose=exchange["shared_item"].implementation_code,
            elements=["person.birth_date"],
            reason="借用",
        )
    assert caught.value.code == "purpose_not_own"
    assert not Grant.objects.exists()


def test_lookup_is_limited_to_minimum_necessary(exchange: dict[str, Any]) -> None:
    approve(exchange, ["person.birth_date"])
    error = refusal(exchange, ["person.household_address"])
    assert error.code == "not_minimum_necessary" and "person.household_address" in error.message


# ---------------------------------------------------------------- masking and verification


def test_masking_by_level(exchange: dict[str, Any]) -> None:
    approve(
        exchange,
        ["person.name", "person.id_number", "person.birth_date", "person.marital_status"],
    )
    citizen = exchange["citizen"].citizen
    result = ask(
        exchange,
        ["person.name", "person.id_number", "person.birth_date", "person.marital_status"],
    )
    assert result.values == {
        "person.name": "李*",
        "person.id_number": citizen.id_number[:6] + "********" + citizen.id_number[-4:],
        "person.birth_date": "1990-01-02",  # general: plain
        "person.marital_status": None,  # withheld: verification only
    }
    assert result.masked == {
        "person.name": True,
        "person.id_number": True,
        "person.birth_date": False,
        "person.marital_status": True,
    }
    assert DataUseRecord.objects.get(pk=result.record_id).unmasked is False


def test_plain_values_only_when_the_grant_allows(exchange: dict[str, Any]) -> None:
    approve(exchange, ["person.name", "person.id_number"], plain=["person.name"])
    assert refusal(exchange, ["person.id_number"], plain=True).code == "plain_not_granted"
    result = ask(exchange, ["person.name"], plain=True)
    assert result.values == {"person.name": "李明"} and result.masked == {"person.name": False}
    assert DataUseRecord.objects.get(pk=result.record_id).unmasked is True


def test_verification_answers_yes_or_no_without_the_value(exchange: dict[str, Any]) -> None:
    approve(exchange, ["person.marital_status"])
    yes = ask(exchange, [], questions={"person.marital_status": "已婚"})
    no = ask(exchange, [], questions={"person.marital_status": "未婚"})
    assert yes.matches == {"person.marital_status": True} and yes.values == {}
    assert no.matches == {"person.marital_status": False} and no.values == {}
    assert DataUseRecord.objects.get(pk=yes.record_id).kind == "verify"


# ---------------------------------------------------------------- refusal reasons


def test_every_refusal_says_why_and_is_recorded(exchange: dict[str, Any]) -> None:
    approve(exchange, ["person.birth_date"])
    assert refusal(exchange, ["person.shoe_size"]).code == "unknown_element"
    assert refusal(exchange, ["person.birth_date", "enterprise.name"]).code == "mixed_registries"
    assert refusal(exchange, ["person.birth_date"], subject="123").code == "subject_invalid"
    assert refusal(exchange, ["person.birth_date"], purpose="NOPE").code == "unknown_purpose"
    assert refusal(exchange, ["person.name"]).code == "no_grant"
    other = Caller(exchange["market"], "system:other")
    assert refusal(exchange, ["person.birth_date"], caller=other).code == "no_grant"
    not_ours = refusal(exchange, ["person.birth_date"], case_id="not-a-case")
    assert not_ours.code == "case_not_found"
    assert audit_verify().ok


def test_lookup_api_authenticates_the_system_by_key(exchange: dict[str, Any]) -> None:
    approve(exchange, ["person.birth_date"])
    body = {
        "subject": exchange["citizen"].citizen.id_number,
        "elements": ["person.birth_date"],
        "purpose": exchange["shared_item"].implementation_code,
    }
    client = Client()
    url = "/api/v1/exchange/lookups"
    anonymous = client.post(url, json.dumps(body), content_type="application/json")
    wrong = client.post(
        url, json.dumps(body), content_type="application/json", HTTP_X_API_KEY="tbx_wrong"
    )
    assert anonymous.status_code == wrong.status_code == 401
    assert not DataUseRecord.objects.exists()
    ok = client.post(
        url, json.dumps(body), content_type="application/json", HTTP_X_API_KEY=exchange["key"]
    )
    assert ok.status_code == 200 and ok.json()["values"] == {"person.birth_date": "1990-01-02"}
    refused = client.post(
        url,
        json.dumps({**body, "elements": ["person.name"]}),
        content_type="application/json",
        HTTP_X_API_KEY=exchange["key"],
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "no_grant" and "共享授权" in refused.json()["message"]
    verify = client.post(
        "/api/v1/exchange/verifications",
        json.dumps(
            {
                "subject": body["subject"],
                "purpose": body["purpose"],
                "questions": {"person.birth_date": "1990-01-02"},
            }
        ),
        content_type="application/json",
        HTTP_X_API_KEY=exchange["key"],
    )
    assert verify.status_code == 200 and verify.json()["matches"] == {"person.birth_date": True}


# ---------------------------------------------------------------- consent and prefill


def test_prefill_needs_consent_and_stops_when_revoked(exchange: dict[str, Any]) -> None:
    approve(exchange, ["person.name", "person.id_number", "person.birth_date"])
    citizen = exchange["citizen"]
    item = exchange["shared_item"]
    without = prefill(actor=citizen, item=item)
    assert without.values == {} and "未授权" in without.unavailable["applicant_name"]
    (consent,) = consent_give(
        actor=citizen,
        purpose=item.implementation_code,
        elements=["person.name", "person.id_number", "person.birth_date"],
    )
    given = prefill(actor=citizen, item=item)
    assert given.values == {"applicant_name": "李明", "birth_date": "1990-01-02"}
    assert given.verified_fields == {"applicant_name": "人口库", "birth_date": "人口库"}
    assert set(given.derived) == {"M01"}
    consent_revoke(actor=citizen, consent_id=consent.pk)
    assert Consent.objects.get(pk=consent.pk).revoked_at is not None
    revoked = prefill(actor=citizen, item=item)
    assert revoked.values == {} and revoked.derived == {}
    with pytest.raises(DomainError):
        consent_revoke(actor=exchange["other_citizen"], consent_id=consent.pk)


def test_consent_is_limited_to_declared_elements(exchange: dict[str, Any]) -> None:
    with pytest.raises(DomainError) as caught:
        consent_give(
            actor=exchange["citizen"],
            purpose=exchange["shared_item"].implementation_code,
            elements=["person.household_address"],
        )
    assert caught.value.code == "not_minimum_necessary"
    assert not Consent.objects.exists()


def test_zero_material_application(exchange: dict[str, Any]) -> None:
    approve(
        exchange,
        ["person.name", "person.id_number", "person.birth_date", "person.marital_status"],
    )
    citizen = exchange["citizen"]
    result = application_submit(
        actor=citizen,
        item_code=exchange["shared_item"].implementation_code,
        form_data={"reason": "工作调动", "applicant_name": "别人"},
        materials=[],
        use_shared_data=True,
    )
    application = result.application
    assert application.form_data["applicant_name"] == "李明"  # the registry's value wins
    assert application.form_data["marital_status"] == "已婚"
    assert not application.materials.exists()
    evidence = {row.material_code or row.field_name: row for row in application.shared_data.all()}
    assert evidence["M01"].registry_name == "人口库" and evidence["M02"].title == "结婚证"
    records = DataUseRecord.objects.filter(case_id=str(result.case.pk))
    assert records.count() == 1
    assert records.get().case_number == result.case.case_number
    client = Client()
    client.post(
        "/workbench/login/",
        {
            "username": exchange["clerk"].user.username,
            "password": f.PASSWORD,
            "otp": f.otp_now(),
        },
    )
    page = client.get(f"/workbench/cases/{result.case.pk}/").content.decode()
    assert '居民身份证：<strong class="verified">已通过人口库核验</strong>' in page
    api = Client().get(f"/api/v1/cases/{result.case.pk}", **bearer(exchange["clerk"])).json()
    assert {row["label"] for row in api["shared_data"]} == {"已通过人口库核验"}


def test_unavailable_registry_falls_back_to_upload(exchange: dict[str, Any]) -> None:
    approve(exchange, ["person.name", "person.id_number", "person.birth_date"])
    Registry.objects.filter(code="population").update(is_active=False)
    exchange_cache_clear()  # what the admin's save does; other processes follow within a minute
    item_code = exchange["shared_item"].implementation_code
    with pytest.raises(DomainError) as caught:
        application_submit(
            actor=exchange["citizen"],
            item_code=item_code,
            form_data={"reason": "工作调动"},
            materials=[],
            use_shared_data=True,
        )
    assert caught.value.code == "material_missing" and "M01" in caught.value.fields
    result = application_submit(
        actor=exchange["citizen"],
        item_code=item_code,
        form_data={"reason": "工作调动", "applicant_name": "李明"},
        materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
        use_shared_data=True,
    )
    assert result.application.materials.get().material_code == "M01"
    assert not SharedDataEvidence.objects.exists()


def test_applications_without_shared_data_are_unchanged(exchange: dict[str, Any]) -> None:
    result = application_submit(
        actor=exchange["citizen"],
        item_code=exchange["shared_item"].implementation_code,
        form_data={"reason": "工作调动"},
        materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
    )
    assert result.created and not DataUseRecord.objects.exists() and not Consent.objects.exists()


def test_enterprise_elements_come_from_the_legal_entity_registry(
    exchange: dict[str, Any],
) -> None:
    police, agent = exchange["department"], exchange["other_citizen"]
    schema = {
        "type": "object",
        "properties": {
            "company": {"type": "string", "title": "企业名称", "x-element": "enterprise.name"}
        },
    }
    item = f.item(police, form_schema=schema, objects=["enterprise"])
    Material.objects.filter(item=item, code="M01").update(
        elements=["enterprise.uscc", "enterprise.status"]
    )
    item_publish(item=item, actor="test")
    item.refresh_from_db()
    uscc = "91440101MA59DEMX1" + f.uscc_checksum("91440101MA59DEMX1")
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
    grant = grant_request(
        actor=exchange["reviewer"],
        purpose=item.implementation_code,
        elements=["enterprise.name", "enterprise.status", "enterprise.uscc"],
        reason="核验企业登记状态",
    )
    grant_decide(actor=exchange["market_steward"], grant_id=grant.pk, approve=True)
    consent_ensure(actor=agent, item=item, enterprise_uscc=uscc)
    filled = prefill(actor=agent, item=item, enterprise_uscc=uscc)
    assert filled.values == {"company": "示例科技有限公司"} and set(filled.derived) == {"M01"}
    as_person = prefill(actor=agent, item=item)
    assert as_person.values == {} and "企业经办人" in as_person.unavailable["company"]


# ---------------------------------------------------------------- licence library placeholder


def test_licence_library_answers_only_from_a_registered_provider(
    exchange: dict[str, Any],
) -> None:
    police = exchange["department"]
    item = f.item(police)
    Material.objects.filter(item=item, code="M02").update(elements=["license.mandarin_certificate"])
    item_publish(item=item, actor="test")
    grant = grant_request(
        actor=exchange["reviewer"],
        purpose=item.implementation_code,
        elements=["license.mandarin_certificate"],
        reason="核验证书",
    )
    grant_decide(actor=exchange["market_steward"], grant_id=grant.pk, approve=True)
    subject = exchange["citizen"].citizen.id_number
    kwargs = {"elements": ["license.mandarin_certificate"], "purpose": item.implementation_code}
    from tongban.licenses.library import register as licence_library_register

    provider_unregister("license_library")  # the licences app registers it at start-up
    try:
        error = refusal(exchange, **kwargs)
        assert error.code == "registry_not_connected" and error.status == 503
        provider_register(
            "license_library",
            lambda s, codes: RegistryAnswer(s == subject, {c: "二级甲等" for c in codes}, None),
        )
        answer = ask(exchange, **kwargs, questions={"license.mandarin_certificate": "二级甲等"})
    finally:
        licence_library_register()
    assert answer.matches == {"license.mandarin_certificate": True}


# ---------------------------------------------------------------- remote registry over HTTP


class RemoteRegistry(BaseHTTPRequestHandler):
    """A registry system on localhost; `behaviour` is a list of what to do per request."""

    behaviour: list[str] = []
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        action = self.behaviour.pop(0) if self.behaviour else "ok"
        if action == "slow":
            time.sleep(0.5)
            action = "ok"
        if action == "error":
            self.send_response(500)
            self.end_headers()
            return
        if action == "missing":
            self.send_response(404)
            self.end_headers()
            return
        body = (
            b"not json"
            if action == "garbage"
            else json.dumps(
                {
                    "found": True,
                    "updated_at": "2026-03-11T09:00:00+08:00",
                    "values": {"person.birth_date": "1990-01-02", "extra": "ignored"},
                }
            ).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the client gave up (timeout)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def remote() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RemoteRegistry)
    RemoteRegistry.behaviour, RemoteRegistry.requests = [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/registry"
    server.shutdown()
    server.server_close()


def adapter(url: str, **kwargs: Any) -> HttpRegistry:
    sleeps: list[float] = []
    registry = HttpRegistry("远程人口库", url, sleep=sleeps.append, **kwargs)
    registry.sleeps = sleeps  # type: ignore[attr-defined]
    return registry


def test_remote_registry_answers(remote: str) -> None:
    answer = adapter(remote).fetch("440106199001021234", ["person.birth_date"])
    assert answer.found and answer.values == {"person.birth_date": "1990-01-02"}
    assert answer.updated_at == datetime(2026, 3, 11, 1, 0, tzinfo=ZoneInfo("UTC"))


def test_remote_registry_not_found(remote: str) -> None:
    RemoteRegistry.behaviour = ["missing"]
    answer = adapter(remote).fetch("440106199001021234", ["person.birth_date"])
    assert not answer.found and answer.values == {} and RemoteRegistry.requests == 1


def test_remote_registry_retries_with_backoff(remote: str) -> None:
    RemoteRegistry.behaviour = ["error", "error", "ok"]
    registry = adapter(remote, retries=2, backoff=0.1)
    assert registry.fetch("440106199001021234", ["person.birth_date"]).found
    assert registry.attempts == 3 and registry.sleeps == [0.1, 0.2]  # type: ignore[attr-defined]


def test_remote_registry_down_is_a_clear_503(remote: str) -> None:
    RemoteRegistry.behaviour = ["error"] * 5
    with pytest.raises(RegistryUnavailable) as caught:
        adapter(remote, retries=2).fetch("440106199001021234", ["person.birth_date"])
    assert caught.value.status == 503 and caught.value.code == "registry_unavailable"
    assert "远程人口库暂时不可用" in caught.value.message and RemoteRegistry.requests == 3


def test_remote_registry_timeout_is_a_504(remote: str) -> None:
    RemoteRegistry.behaviour = ["slow", "slow"]
    with pytest.raises(RegistryTimeout) as caught:
        adapter(remote, timeout=0.1, retries=1).fetch("440106199001021234", ["person.birth_date"])
    assert caught.value.status == 504 and "查询超时" in caught.value.message


def test_remote_registry_refusing_connections(remote: str) -> None:
    with pytest.raises(RegistryUnavailable) as caught:
        adapter("http://127.0.0.1:9/registry", retries=1).fetch("x", ["person.birth_date"])
    assert caught.value.code == "registry_unavailable"


def test_remote_registry_malformed_answer_is_not_retried(remote: str) -> None:
    RemoteRegistry.behaviour = ["garbage", "ok"]
    with pytest.raises(RegistryUnavailable) as caught:
        adapter(remote).fetch("440106199001021234", ["person.birth_date"])
    assert caught.value.code == "registry_bad_answer" and RemoteRegistry.requests == 1


def test_gateway_records_a_failed_remote_registry(
    exchange: dict[str, Any], remote: str, settings: Any
) -> None:
    settings.TONGBAN = {**settings.TONGBAN, "EXCHANGE": {"HTTP_BACKOFF_SECONDS": 0}}
    Registry.objects.filter(code="population").update(kind="http", base_url=remote)
    exchange_cache_clear()
    approve(exchange, ["person.birth_date"])
    with time_machine.travel(WORKING_TIME):
        assert ask(exchange, ["person.birth_date"]).values == {"person.birth_date": "1990-01-02"}
    RemoteRegistry.behaviour = ["error"] * 5
    error = refusal(exchange, ["person.birth_date"])
    assert error.code == "registry_unavailable"
    assert DataUseRecord.objects.latest("id").outcome == LookupOutcome.FAILED


def test_gateway_records_a_timed_out_remote_registry(
    exchange: dict[str, Any], remote: str, settings: Any
) -> None:
    settings.TONGBAN = {
        **settings.TONGBAN,
        "EXCHANGE": {"HTTP_TIMEOUT_SECONDS": 0.1, "HTTP_RETRIES": 0, "HTTP_BACKOFF_SECONDS": 0},
    }
    Registry.objects.filter(code="population").update(kind="http", base_url=remote)
    exchange_cache_clear()
    approve(exchange, ["person.birth_date"])
    RemoteRegistry.behaviour = ["slow"]
    error = refusal(exchange, ["person.birth_date"])
    assert error.code == "registry_timeout" and error.status == 504 and error.recorded
    assert DataUseRecord.objects.latest("id").outcome == LookupOutcome.FAILED


def test_a_refused_lookup_is_explained_in_english_and_recorded_in_chinese(
    exchange: dict[str, Any],
) -> None:
    approve(exchange, ["person.birth_date"])
    client = Client()
    client.cookies["django_language"] = "en"
    with translation.override(None):  # the language middleware leaves English active
        refused = client.post(
            "/api/v1/exchange/lookups",
            json.dumps(
                {
                    "subject": exchange["citizen"].citizen.id_number,
                    "elements": ["person.name"],
                    "purpose": exchange["shared_item"].implementation_code,
                }
            ),
            content_type="application/json",
            HTTP_X_API_KEY=exchange["key"],
        )
    assert refused.status_code == 403 and refused.json()["code"] == "no_grant"
    assert refused.json()["message"] == (
        "Your department has no data sharing grant for these data elements for this purpose: "
        "person.name"
    )
    record = DataUseRecord.objects.latest("id")
    assert record.refusal_code == "no_grant"
    assert record.refusal_message == "本部门未获得该用途下这些数据元的共享授权：person.name"


# ---------------------------------------------------------------- anomaly rules


def alerts(rule: str) -> list[SecurityAlert]:
    return list(SecurityAlert.objects.filter(rule=rule))


@pytest.fixture
def monitored(exchange: dict[str, Any]) -> dict[str, Any]:
    monitoring.calendar_cache_clear()
    approve(exchange, ["person.birth_date", "person.name"], plain=["person.name"])
    return exchange


def test_rule_rate_per_account(monitored: dict[str, Any], settings: Any) -> None:
    settings.TONGBAN = {**settings.TONGBAN, "EXCHANGE": {"RATE_LIMIT": 3, "RATE_CHECK_EVERY": 1}}
    with time_machine.travel(WORKING_TIME):
        for _ in range(3):
            ask(monitored, ["person.birth_date"])
        assert alerts(AlertRule.RATE) == []
        ask(monitored, ["person.birth_date"])
        ask(monitored, ["person.birth_date"])
    (alert,) = alerts(AlertRule.RATE)  # one alert per window, not one per lookup
    assert alert.caller == "system:test" and alert.evidence["lookups"] == 4
    assert AuditRecord.objects.filter(action="exchange.alert.raise").count() >= 1


def test_rule_off_hours(monitored: dict[str, Any]) -> None:
    with time_machine.travel(WORKING_TIME):
        ask(monitored, ["person.birth_date"])
    assert alerts(AlertRule.OFF_HOURS) == []
    with time_machine.travel(WORKING_TIME.replace(hour=23)):
        ask(monitored, ["person.birth_date"])
    with time_machine.travel(datetime(2026, 3, 14, 10, 0, tzinfo=SHANGHAI)):  # a Saturday
        ask(monitored, ["person.birth_date"])
    assert len(alerts(AlertRule.OFF_HOURS)) == 2


def test_rule_not_tied_to_an_open_case(monitored: dict[str, Any], submitted: Case) -> None:
    with time_machine.travel(WORKING_TIME):
        ask(monitored, ["person.birth_date"], case_id=str(submitted.pk))
        assert alerts(AlertRule.NO_OPEN_CASE) == []
        ask(monitored, ["person.birth_date"])
        assert len(alerts(AlertRule.NO_OPEN_CASE)) == 1
        case_transition(
            actor=monitored["clerk"], case_id=submitted.pk, action="reject", comment="不符合"
        )
        ask(monitored, ["person.birth_date"], case_id=str(submitted.pk))
    rows = alerts(AlertRule.NO_OPEN_CASE)
    assert len(rows) == 2 and {a.evidence["case_state"] for a in rows} == {"none", "closed"}
    for alert in rows:  # one alert per record, naming it
        assert (
            DataUseRecord.objects.get(pk=alert.evidence["record"]).case_id == alert.evidence["case"]
        )


def test_rule_bulk_unmasking(monitored: dict[str, Any], settings: Any, submitted: Case) -> None:
    settings.TONGBAN = {**settings.TONGBAN, "EXCHANGE": {"UNMASKED_LIMIT": 2}}
    with time_machine.travel(WORKING_TIME):
        for _ in range(2):
            ask(monitored, ["person.name"], plain=True, case_id=str(submitted.pk))
        ask(monitored, ["person.name"], case_id=str(submitted.pk))  # masked: not counted
        assert alerts(AlertRule.BULK_UNMASKING) == []
        ask(monitored, ["person.name"], plain=True, case_id=str(submitted.pk))
    (alert,) = alerts(AlertRule.BULK_UNMASKING)
    assert alert.evidence["unmasked_lookups"] == 3


@pytest.mark.django_db(transaction=True)
def test_rules_are_decided_before_the_record_is_written(
    monitored: dict[str, Any], submitted: Case
) -> None:
    """Outside any transaction (the API's case): a lookup that raises nothing is written on its
    own (one statement on PostgreSQL); one that raises an alert is written with the alert and
    both audit records in one transaction, and the alert names the record."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tongban.core import audit
    from tongban.core.audit import audit_verify

    case = str(submitted.pk)
    audit.forget_head()
    with time_machine.travel(WORKING_TIME):
        for _ in range(2):  # learn the chain head, draw a key ahead
            ask(monitored, ["person.birth_date"], case_id=case)
        with CaptureQueriesContext(connection) as queries:
            quiet = ask(monitored, ["person.birth_date"], case_id=case)
    assert SecurityAlert.objects.count() == 0
    writes = [q["sql"] for q in queries if "INSERT" in q["sql"] or "UPDATE" in q["sql"]]
    if connection.vendor == "postgresql":  # the record and its audit record: one statement
        assert len(writes) == 1 and writes[0].startswith("WITH moved AS (UPDATE")
        assert not [q for q in queries if q["sql"] in {"BEGIN", "COMMIT"}]
    else:  # SQLite: the record, the audit record, the head — in one transaction
        assert len(writes) == 3
    with time_machine.travel(WORKING_TIME.replace(hour=23)):
        late = ask(monitored, ["person.birth_date"], case_id=case)
        ask(monitored, ["person.birth_date"], case_id=case)  # deduplicated before the write
    alert = SecurityAlert.objects.get(rule=AlertRule.OFF_HOURS)
    assert alert.evidence["record"] == late.record_id != quiet.record_id
    assert SecurityAlert.objects.count() == 1
    raised = AuditRecord.objects.get(action="exchange.alert.raise")
    assert raised.object_id == str(alert.pk)
    for record in DataUseRecord.objects.all():
        assert AuditRecord.objects.filter(object_id=str(record.pk), action="exchange.lookup")
    report = audit_verify()
    assert report.ok, report.describe()


def test_security_view_lists_alerts_only_to_security_officers(
    monitored: dict[str, Any],
) -> None:
    with time_machine.travel(WORKING_TIME):
        ask(monitored, ["person.birth_date"])  # no case: one alert
    officer = Client()
    clerk = Client()
    for client, actor in ((officer, monitored["security"]), (clerk, monitored["clerk"])):
        client.post(
            "/workbench/login/",
            {"username": actor.user.username, "password": f.PASSWORD, "otp": f.otp_now()},
        )
    page = officer.get("/workbench/security/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "查询未关联在办办件" in body and "system:test" in body and "人口库" in body
    assert clerk.get("/workbench/security/").status_code == 403
    alert = SecurityAlert.objects.get()
    assert officer.post(f"/workbench/security/alerts/{alert.pk}/acknowledge/").status_code == 302
    assert SecurityAlert.objects.get().acknowledged_at is not None
    assert AuditRecord.objects.filter(action="exchange.alert.acknowledge").count() == 1
    api = Client().get("/api/v1/exchange/alerts", **bearer(monitored["security"]))
    assert api.status_code == 200 and api.json()["items"][0]["rule"] == "no_open_case"
    denied = Client().get("/api/v1/exchange/alerts", **bearer(monitored["clerk"]))
    assert denied.status_code == 403


def test_sharing_availability_indicator(monitored: dict[str, Any]) -> None:
    with time_machine.travel(WORKING_TIME):
        ask(monitored, ["person.birth_date"])  # fresh
    stale_subject = f.citizen("张伟").citizen.id_number
    population_record_put(
        id_number=stale_subject,
        name="张伟",
        birth_date=date(1980, 5, 5),
        gender="男",
        household_address="广东省广州市天河区",
        marital_status="未婚",
        updated_at=WORKING_TIME - timedelta(days=3),
    )
    with time_machine.travel(WORKING_TIME):
        ask(monitored, ["person.birth_date"], subject=stale_subject)  # older than 24 h
        refusal(monitored, ["person.household_address"])  # refused: not counted
    (row,) = sharing_availability()
    assert (row.registry, row.department, row.lookups, row.fresh_answers) == (
        "人口库",
        "广州市公安局",
        2,
        1,
    )
    assert row.share == 0.5


# ---------------------------------------------------------------- the citizen's record


def test_citizen_sees_their_own_data_use_record(monitored: dict[str, Any]) -> None:
    with time_machine.travel(WORKING_TIME):
        ask(monitored, ["person.birth_date"])
        refusal(monitored, ["person.household_address"])
    citizen = monitored["citizen"]
    assert data_use_for_citizen(citizen=citizen.citizen).count() == 2
    assert data_use_for_citizen(citizen=monitored["other_citizen"].citizen).count() == 0
    api = Client().get("/api/v1/exchange/data-use", **bearer(citizen)).json()["items"]
    assert [row["outcome"] for row in api] == ["refused", "answered"]
    assert api[1]["department"] == "广州市公安局" and api[1]["element_names"] == ["出生日期"]
    assert "超出最小必要范围" in api[0]["refusal_message"]
    other = Client().get("/api/v1/exchange/data-use", **bearer(monitored["other_citizen"]))
    assert other.json()["items"] == []
    staff = Client().get("/api/v1/exchange/data-use", **bearer(monitored["clerk"]))
    assert staff.status_code == 403
    client = Client()
    client.post(
        "/login/", {"method": "password", "phone": citizen.citizen.phone, "password": f.PASSWORD}
    )
    page = client.get("/me/data-use/").content.decode()
    assert page.count('class="data-use-row"') == 2 and "出生日期" in page
    assert monitored["citizen"].citizen.id_number not in page
