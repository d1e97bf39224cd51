"""Electronic licences: identifiers, canonical JSON, issuance on approval, status changes,
presentations, online and offline verification, the CLI, API scope and portal pages."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from tongban.cases.models import Case
from tongban.cases.submission.services import UploadedMaterial, application_submit, case_transition
from tongban.cli import main as cli_main
from tongban.core.audit import audit_verify
from tongban.core.crypto import sm2_keypair, sm2_sign
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.identity.services import enterprise_register
from tongban.ledger import selectors as ledger_selectors
from tongban.licenses import keys
from tongban.licenses.canonical import CanonicalError, canonical_json
from tongban.licenses.identifiers import (
    IdentifierError,
    check_character,
    identifier_build,
    identifier_parse,
)
from tongban.licenses.models import (
    License,
    LicenseEvent,
    LicenseIssuance,
    LicenseStatus,
    LicenseType,
    TrustedRegion,
)
from tongban.licenses.offline import license_file_verify
from tongban.licenses.seed import licenses_seed
from tongban.licenses.services import (
    LOG_NAME,
    license_expire,
    license_file,
    license_issue,
    license_present,
    license_reinstate,
    license_revoke,
    license_suspend,
    license_verify,
    presentation_verify,
    trust_list_export,
    trust_list_import,
)
from tongban.licenses.tasks import licenses_expire_due

from . import factories as f
from .conftest import bearer

pytestmark = pytest.mark.django_db

STANDARD_EXAMPLE = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"


# ---- pure parts -------------------------------------------------------------------------------


class TestIdentifier:
    def test_standard_example_checks(self) -> None:
        parsed = identifier_parse(STANDARD_EXAMPLE)
        assert parsed.type_code == "11100000000013338W011"
        assert parsed.issuer_code == "11430000006122244L"
        assert parsed.check == "U"
        assert check_character("11100000000013338W01111430000006122244L20230000403001") == "U"

    def test_every_single_character_change_is_caught(self) -> None:
        body = STANDARD_EXAMPLE[len("1.2.156.3005.2.") : -2]
        for position, character in enumerate(body):
            if character == ".":
                continue
            replacement = "7" if character != "7" else "8"
            altered = body[:position] + replacement + body[position + 1 :]
            assert check_character(altered) != "U", position

    def test_wrong_check_character_is_refused(self) -> None:
        with pytest.raises(IdentifierError, match="expected 'U'"):
            identifier_parse(STANDARD_EXAMPLE[:-1] + "V")

    def test_build_round_trips(self) -> None:
        built = identifier_build(
            type_code="11100000000013338W011",
            issuer_code="11430000006122244L",
            serial="20230000403",
            version=1,
        )
        assert built == STANDARD_EXAMPLE

    def test_build_refuses_malformed_parts(self) -> None:
        with pytest.raises(IdentifierError):
            identifier_build(type_code="123", issuer_code="11430000006122244L", serial="1")


class TestCanonicalJson:
    def test_sorted_compact_utf8(self) -> None:
        assert canonical_json({"b": 1, "a": ["证", True, None], "c": {"y": "\n", "x": -5}}) == (
            '{"a":["证",true,null],"b":1,"c":{"x":-5,"y":"\\n"}}'.encode()
        )

    def test_keys_sort_by_utf16_code_units_as_rfc8785(self) -> None:
        # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FF01 (code-point order would not).
        assert canonical_json({"\uff01": 1, "\U0001f600": 2}) == '{"😀":2,"！":1}'.encode()

    @pytest.mark.parametrize("value", [1.5, 2**53, float("nan"), {1: "x"}, "\ud800"])
    def test_values_without_canonical_form_are_refused(self, value: Any) -> None:
        with pytest.raises(CanonicalError):
            canonical_json({"v": value})


# ---- issuance ---------------------------------------------------------------------------------


HOUSEHOLD_MAPPING = {
    "name": "@applicant_name",
    "move_reason": "reason",
    "to_address": "=广州市天河区（合成数据）",
    "moving_date": "move_date",
}


@pytest.fixture
def licensed(world: dict[str, Any]) -> dict[str, Any]:
    """The world's item issues a 户籍证明; an enterprise item issues a 营业执照."""
    licenses_seed()
    household = LicenseType.objects.get(name="户口簿（户籍证明）")
    LicenseIssuance.objects.create(
        implementation_code=world["item"].implementation_code,
        license_type=household,
        field_mapping=HOUSEHOLD_MAPPING,
    )
    agent = f.citizen("陈静")
    enterprise = enterprise_register(
        uscc=f.department("440100", "x").code,  # any valid USCC will do
        name="广州合成科技有限公司",
        legal_representative="陈静",
        agent=agent.citizen,
    )
    enterprise_item = f.item(world["department"], objects=["enterprise"], name="设立登记")
    LicenseIssuance.objects.create(
        implementation_code=enterprise_item.implementation_code,
        license_type=LicenseType.objects.get(name="营业执照"),
        field_mapping={"company_name": "@enterprise_name", "business_scope": "reason"},
    )
    return {
        **world,
        "agent": agent,
        "enterprise": enterprise,
        "enterprise_item": enterprise_item,
        "household": household,
    }


def approve(
    world: dict[str, Any], capture: Any, item: Any = None, actor: Any = None, **extra: Any
) -> Case:
    """Apply, accept, review and approve through the cases services; run after-commit hooks."""
    with capture(execute=True):
        case = application_submit(
            actor=actor or world["citizen"],
            item_code=(item or world["item"]).implementation_code,
            form_data=dict(f.VALID_FORM),
            materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
            **extra,
        ).case
    for action, who in (("accept", "clerk"), ("start_review", "reviewer"), ("approve", "reviewer")):
        with capture(execute=True):
            case = case_transition(actor=world[who], case_id=case.pk, action=action)
    return case


@pytest.fixture
def issued(licensed: dict[str, Any], django_capture_on_commit_callbacks: Any) -> License:
    case = approve(licensed, django_capture_on_commit_callbacks)
    return License.objects.get(case=case)


def log_size() -> int:
    try:
        return ledger_selectors.tree_head(log_name=LOG_NAME).size
    except NotFound:
        return 0


class TestIssuance:
    def test_approval_issues_exactly_one_licence_and_one_log_entry(
        self, licensed: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        before = log_size()
        case = approve(licensed, django_capture_on_commit_callbacks)
        license = License.objects.get(case=case)
        assert License.objects.count() == 1
        assert log_size() == before + 1
        assert LicenseEvent.objects.filter(license=license).count() == 1
        identifier_parse(license.identifier)  # check character is right
        assert license.identifier.startswith(
            f"1.2.156.3005.2.{licensed['household'].code}.{licensed['department'].code}."
        )
        data = json.loads(license.data)
        assert canonical_json(data).decode() == license.data
        assert data["holder_code_type"] == "111"
        assert data["holder_code"] == licensed["citizen"].citizen.id_number
        assert data["face"] == {
            "name": "李明",
            "move_reason": "工作调动",
            "to_address": "广州市天河区（合成数据）",
            "moving_date": "2026-12-01",
        }
        assert license.holder_user == licensed["citizen"].user
        assert license.valid_until == _one_year_less_a_day(license.issued_on)
        entry = json.loads(license.log_entry)
        assert entry["event"] == "issue" and entry["license"] == license.identifier
        assert "李明" not in license.log_entry and data["holder_code"] not in license.log_entry
        assert audit_verify().ok

    def test_repeated_events_issue_nothing_more(
        self, issued: License, django_capture_on_commit_callbacks: Any
    ) -> None:
        before = log_size()
        assert license_issue(case_id=issued.case_id) == issued
        assert license_issue(case_id=issued.case_id) == issued
        assert License.objects.count() == 1
        assert log_size() == before

    def test_items_without_a_mapping_issue_nothing(
        self, licensed: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        LicenseIssuance.objects.all().delete()
        approve(licensed, django_capture_on_commit_callbacks)
        assert License.objects.count() == 0

    def test_denied_case_issues_nothing(
        self, licensed: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        world = licensed
        with django_capture_on_commit_callbacks(execute=True):
            case = application_submit(
                actor=world["citizen"],
                item_code=world["item"].implementation_code,
                form_data=dict(f.VALID_FORM),
                materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
            ).case
        for action, who in (("accept", "clerk"), ("start_review", "reviewer")):
            case = case_transition(actor=world[who], case_id=case.pk, action=action)
        with django_capture_on_commit_callbacks(execute=True):
            case_transition(actor=world["reviewer"], case_id=case.pk, action="deny", comment="否")
        assert License.objects.count() == 0

    def test_enterprise_licence_is_held_by_the_enterprise(
        self, licensed: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        case = approve(
            licensed,
            django_capture_on_commit_callbacks,
            item=licensed["enterprise_item"],
            actor=licensed["agent"],
            enterprise_uscc=licensed["enterprise"].uscc,
        )
        license = License.objects.get(case=case)
        data = json.loads(license.data)
        assert (license.holder_enterprise, license.holder_user) == (licensed["enterprise"], None)
        assert (data["holder_code"], data["holder_code_type"]) == (
            licensed["enterprise"].uscc,
            "001",
        )
        assert data["face"]["company_name"] == "广州合成科技有限公司"
        assert data["valid_until"] == ""  # 长期

    def test_issuer_key_file_is_private(self, issued: License, settings: Any) -> None:
        path = Path(settings.TONGBAN["KEY_DIR"]) / "licenses" / f"issuer-{issued.issuer.code}.sm2"
        assert path.stat().st_mode & 0o777 == 0o600
        assert keys.key_id(issued.issuer_key.public_key) == issued.issuer_key.key_id


def _one_year_less_a_day(day: date) -> date:
    try:
        return day.replace(year=day.year + 1) - timedelta(days=1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28) - timedelta(days=1)


# ---- status changes ---------------------------------------------------------------------------


class TestStatusChanges:
    def test_suspend_reinstate_revoke_are_logged_and_audited(
        self, licensed: dict[str, Any], issued: License
    ) -> None:
        reviewer = licensed["reviewer"]
        before = log_size()
        license_suspend(actor=reviewer, license_id=issued.pk, reason="核查中")
        assert License.objects.get(pk=issued.pk).status == LicenseStatus.SUSPENDED
        license_reinstate(actor=reviewer, license_id=issued.pk, reason="核查完毕")
        license = license_revoke(actor=reviewer, license_id=issued.pk, reason="以欺骗手段取得")
        assert (license.status, license.status_reason) == (LicenseStatus.REVOKED, "以欺骗手段取得")
        assert log_size() == before + 3
        assert list(
            LicenseEvent.objects.filter(license=issued).values_list("event_type", flat=True)
        ) == ["issue", "suspension", "reinstatement", "revocation"]
        assert audit_verify().ok

    def test_reason_is_required(self, licensed: dict[str, Any], issued: License) -> None:
        with pytest.raises(InvalidInput) as error:
            license_revoke(actor=licensed["reviewer"], license_id=issued.pk, reason="  ")
        assert error.value.code == "reason_required"
        assert License.objects.get(pk=issued.pk).status == LicenseStatus.VALID

    def test_only_the_issuing_department_with_the_decision_role(
        self, licensed: dict[str, Any], issued: License
    ) -> None:
        for outsider in ("other_department_staff", "other_region_staff", "citizen"):
            with pytest.raises(NotFound):
                license_revoke(actor=licensed[outsider], license_id=issued.pk, reason="x")
        with pytest.raises(PermissionDenied):
            license_revoke(actor=licensed["clerk"], license_id=issued.pk, reason="x")
        assert License.objects.get(pk=issued.pk).status == LicenseStatus.VALID
        assert LicenseEvent.objects.filter(license=issued).count() == 1

    def test_revoked_is_final(self, licensed: dict[str, Any], issued: License) -> None:
        license_revoke(actor=licensed["reviewer"], license_id=issued.pk, reason="吊销")
        with pytest.raises(Conflict):
            license_reinstate(actor=licensed["reviewer"], license_id=issued.pk, reason="x")

    def test_expiry_task_marks_and_logs_once(self, issued: License) -> None:
        assert licenses_expire_due() == 0
        with time_machine.travel(issued.valid_until + timedelta(days=2), tick=False):
            assert licenses_expire_due() == 1
            assert licenses_expire_due() == 0
            assert not license_expire(license_id=issued.pk)
        assert License.objects.get(pk=issued.pk).status == LicenseStatus.EXPIRED
        assert LicenseEvent.objects.filter(license=issued, event_type="expiry").count() == 1


# ---- verification -----------------------------------------------------------------------------


class TestOnlineVerification:
    def test_valid_licence_verifies_and_the_verification_is_logged(self, issued: License) -> None:
        before = log_size()
        result = license_verify(license=issued)
        assert (result.ok, result.code) == (True, "ok")
        assert [c.name for c in result.checks] == ["digest", "signature", "inclusion", "status"]
        assert result.license is not None and result.license["holder_name"] == "李*"
        assert log_size() == before + 1

    def test_tampered_stored_data_is_detected(self, issued: License) -> None:
        License.objects.filter(pk=issued.pk).update(
            data=issued.data.replace("工作调动", "工作调离")
        )
        assert license_verify(license=License.objects.get(pk=issued.pk)).code == "tampered"

    def test_revoked_and_expired(self, licensed: dict[str, Any], issued: License) -> None:
        with time_machine.travel(issued.valid_until + timedelta(days=1), tick=False):
            assert license_verify(license=issued).code == "expired"
        license_revoke(actor=licensed["reviewer"], license_id=issued.pk, reason="吊销")
        assert license_verify(license=License.objects.get(pk=issued.pk)).code == "revoked"


class TestPresentation:
    def test_presentation_verifies_then_expires(
        self, licensed: dict[str, Any], issued: License
    ) -> None:
        presented = license_present(actor=licensed["citizen"], license_id=issued.pk)
        assert (presented.expires_at - issued.events.last().occurred_at) <= timedelta(minutes=5)
        assert presentation_verify(token=presented.token).ok
        assert LicenseEvent.objects.filter(license=issued, event_type="use").count() == 1
        with time_machine.travel(presented.expires_at + timedelta(seconds=1)):
            result = presentation_verify(token=presented.token)
        assert (result.ok, result.code) == (False, "presentation_expired")

    def test_forged_or_garbled_tokens_are_refused(
        self, licensed: dict[str, Any], issued: License
    ) -> None:
        token = license_present(actor=licensed["citizen"], license_id=issued.pk).token
        payload, _ = token.split(".")
        import base64

        forged_signature = sm2_sign(sm2_keypair()[0], base64.urlsafe_b64decode(payload + "=="))
        forged = payload + "." + base64.urlsafe_b64encode(forged_signature).decode().rstrip("=")
        assert presentation_verify(token=forged).code == "bad_presentation"
        assert presentation_verify(token="not-a-token").code == "bad_presentation"

    def test_only_the_holder_presents_and_only_a_valid_licence(
        self, licensed: dict[str, Any], issued: License
    ) -> None:
        with pytest.raises(NotFound):
            license_present(actor=licensed["other_citizen"], license_id=issued.pk)
        license_suspend(actor=licensed["reviewer"], license_id=issued.pk, reason="核查")
        with pytest.raises(Conflict):
            license_present(actor=licensed["citizen"], license_id=issued.pk)


def _file(license: License) -> dict[str, Any]:
    return json.loads(license_file(License.objects.get(pk=license.pk)))


def _verify(document: dict[str, Any], trust: Any, **kwargs: Any) -> Any:
    return license_file_verify(json.dumps(document, ensure_ascii=False).encode(), trust, **kwargs)


class TestOfflineFile:
    def test_exported_file_verifies_offline(self, issued: License) -> None:
        result = _verify(_file(issued), trust_list_export())
        assert (result.ok, result.code, result.message) == (True, "ok", "证照真实有效")
        assert [c.name for c in result.checks] == [
            "identifier",
            "issuer_key",
            "checkpoint",
            "inclusion",
            "digest",
            "signature",
            "status",
            "validity",
        ]

    def test_a_later_checkpoint_still_proves_the_licence(
        self, licensed: dict[str, Any], issued: License
    ) -> None:
        license_verify(license=issued)  # more leaves after the issue event
        license_verify(license=issued)
        document = _file(issued)
        assert document["log"]["tree_size"] > issued.log_index + 1
        assert _verify(document, trust_list_export()).ok

    def test_tampered_field(self, issued: License) -> None:
        document = _file(issued)
        document["license"]["face"]["move_reason"] = "投资移民"
        result = _verify(document, trust_list_export())
        assert (result.ok, result.code) == (False, "tampered")
        assert "篡改" in result.message

    def test_unknown_key(self, issued: License) -> None:
        trust = trust_list_export()
        trust["issuers"] = []
        assert _verify(_file(issued), trust).code == "unknown_key"

    def test_wrong_key(self, issued: License) -> None:
        trust = trust_list_export()
        for issuer in trust["issuers"]:
            issuer["public_key"] = sm2_keypair()[1]
        result = _verify(_file(issued), trust)
        assert (result.code, result.message) == (
            "wrong_key",
            "签名与信任列表中该签发机关的公钥不符（密钥错误）",
        )

    def test_bad_proof_and_bad_checkpoint(self, issued: License) -> None:
        license_verify(license=issued)
        document = _file(issued)
        document["log"]["index"] += 1
        assert _verify(document, trust_list_export()).code == "bad_proof"
        trust = trust_list_export()
        trust["logs"][0]["vkeys"] = []
        assert _verify(_file(issued), trust).code == "bad_checkpoint"

    def test_revoked_after_export(self, licensed: dict[str, Any], issued: License) -> None:
        document = _file(issued)
        license_revoke(actor=licensed["reviewer"], license_id=issued.pk, reason="吊销")
        result = _verify(document, trust_list_export())
        assert (result.ok, result.code, result.message) == (
            False,
            "revoked",
            "证照已被吊销（废止）",
        )

    def test_suspended(self, licensed: dict[str, Any], issued: License) -> None:
        license_suspend(actor=licensed["reviewer"], license_id=issued.pk, reason="核查")
        assert _verify(_file(issued), trust_list_export()).code == "suspended"

    def test_forged_status_list_is_refused(self, licensed: dict[str, Any], issued: License) -> None:
        trust = trust_list_export()
        body = json.loads(trust["status_list"]["body"])
        body["entries"] = [{"identifier": issued.identifier, "status": "revoked", "since": ""}]
        trust["status_list"]["body"] = json.dumps(body)
        assert _verify(_file(issued), trust).code == "bad_status_list"

    def test_expired(self, issued: License) -> None:
        result = _verify(
            _file(issued), trust_list_export(), today=issued.valid_until + timedelta(days=1)
        )
        assert (result.ok, result.code, result.message) == (False, "expired", "证照已超过有效期")

    def test_malformed_inputs_are_reported_not_raised(self, issued: License) -> None:
        trust = trust_list_export()
        assert license_file_verify(b"\xff\xfe", trust).code == "malformed_file"
        assert license_file_verify(b"[]", trust).code == "malformed_file"
        document = _file(issued)
        identifier = document["license"]["identifier"]
        wrong_check = "0" if identifier[-1] != "0" else "1"
        document["license"]["identifier"] = identifier[:-1] + wrong_check
        assert _verify(document, trust).code == "bad_identifier"
        assert license_file_verify(json.dumps(_file(issued)).encode(), {"x": 1}).code == (
            "malformed_trust_list"
        )


class TestEndToEnd:
    def test_approval_to_an_offline_verified_file_with_the_cli(
        self,
        licensed: dict[str, Any],
        django_capture_on_commit_callbacks: Any,
        tmp_path: Path,
        api: Client,
        capsys: Any,
    ) -> None:
        case = approve(licensed, django_capture_on_commit_callbacks)
        license = License.objects.get(case=case)
        headers = bearer(licensed["citizen"])
        response = api.get(f"/api/v1/licenses/{license.pk}/file", **headers)
        assert response.status_code == 200
        licence_path = tmp_path / "license.json"
        licence_path.write_bytes(response.content)
        trust_path = tmp_path / "trust.json"
        trust_path.write_bytes(api.get("/api/v1/licenses/trust-list").content)

        assert cli_main(["license", "verify", str(licence_path), "--trust", str(trust_path)]) == 0
        assert "证照真实有效" in capsys.readouterr().out

        # The same check as a separate process with no Django settings at all.
        completed = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "tongban.cli",
                "license",
                "verify",
                str(licence_path),
                "--trust",
                str(trust_path),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
        )
        assert completed.returncode == 0, completed.stderr
        assert json.loads(completed.stdout)["code"] == "ok"

        tampered = json.loads(response.content)
        tampered["license"]["holder_name"] = "王五"
        licence_path.write_text(json.dumps(tampered, ensure_ascii=False), encoding="utf-8")
        assert cli_main(["license", "verify", str(licence_path), "--trust", str(trust_path)]) == 1
        assert "tampered" in capsys.readouterr().out
        assert cli_main(["license", "verify", str(tmp_path / "missing"), "--trust", "x"]) == 2


class TestTrustLists:
    def test_export_lists_issuers_logs_and_status_key(self, issued: License) -> None:
        trust = trust_list_export()
        assert trust["format"] == "tongban-trust-list/1"
        assert [i["key_id"] for i in trust["issuers"]] == [issued.issuer_key.key_id]
        assert trust["logs"][0]["origin"].endswith("/licenses")
        assert trust["logs"][0]["vkeys"]
        assert trust["status_keys"][0]["public_key"] == keys.platform_public_key()

    def test_import_another_region(self, issued: License) -> None:
        other = {**trust_list_export(), "region": {"code": "330000", "name": "浙江省"}}
        other["logs"] = [{**other["logs"][0], "origin": "zj.example/licenses"}]
        row = trust_list_import(actor="user:1", document=other)
        assert (row.region, row.name) == ("330000", "浙江省")
        assert TrustedRegion.objects.count() == 1
        with pytest.raises(InvalidInput):
            trust_list_import(actor="user:1", document=trust_list_export())  # own region
        with pytest.raises(InvalidInput):
            trust_list_import(actor="user:1", document={"format": "nope"})


# ---- API scope ----------------------------------------------------------------------------------


class TestApi:
    def test_holder_lists_and_reads_own_licence(
        self, licensed: dict[str, Any], issued: License, api: Client
    ) -> None:
        headers = bearer(licensed["citizen"])
        rows = api.get("/api/v1/licenses", **headers).json()
        assert rows["count"] == 1
        assert rows["items"][0]["holder_code"].count("*") == 8  # masked ID number
        detail = api.get(f"/api/v1/licenses/{issued.pk}", **headers).json()
        assert detail["identifier"] == issued.identifier
        assert {"name": "move_reason", "title": "迁移原因", "value": "工作调动"} in detail["face"]

    def test_nobody_else_sees_it(
        self, licensed: dict[str, Any], issued: License, api: Client
    ) -> None:
        for who in ("other_citizen", "agent", "clerk", "reviewer", "other_region_staff"):
            headers = bearer(licensed[who])
            assert api.get("/api/v1/licenses", **headers).json()["count"] == 0
            for suffix in ("", "/file"):
                assert api.get(f"/api/v1/licenses/{issued.pk}{suffix}", **headers).status_code == (
                    404
                )
            assert (
                api.post(f"/api/v1/licenses/{issued.pk}/presentations", **headers).status_code
                == 404
            )
        assert api.get("/api/v1/licenses").status_code == 401
        assert api.get(
            "/api/v1/licenses/not-a-uuid", **bearer(licensed["citizen"])
        ).status_code in (
            404,
            422,
        )

    def test_enterprise_licences_reach_the_agent(
        self, licensed: dict[str, Any], django_capture_on_commit_callbacks: Any, api: Client
    ) -> None:
        case = approve(
            licensed,
            django_capture_on_commit_callbacks,
            item=licensed["enterprise_item"],
            actor=licensed["agent"],
            enterprise_uscc=licensed["enterprise"].uscc,
        )
        license = License.objects.get(case=case)
        assert (
            api.get(f"/api/v1/licenses/{license.pk}", **bearer(licensed["agent"])).status_code
            == 200
        )
        assert (
            api.get(f"/api/v1/licenses/{license.pk}", **bearer(licensed["citizen"])).status_code
            == 404
        )

    def test_presentation_and_public_verification(
        self, licensed: dict[str, Any], issued: License, api: Client
    ) -> None:
        response = api.post(
            f"/api/v1/licenses/{issued.pk}/presentations", **bearer(licensed["citizen"])
        )
        assert response.status_code == 201
        body = response.json()
        assert body["qr_svg"].startswith("<svg")
        assert "/licenses/verify/?token=" in body["verify_url"]
        verdict = api.post(
            "/api/v1/licenses/verifications",
            {"presentation": body["token"]},
            content_type="application/json",
        ).json()
        assert (verdict["ok"], verdict["license"]["holder_name"]) == (True, "李*")
        file_verdict = api.post(
            "/api/v1/licenses/verifications",
            {"license_file": _file(issued)},
            content_type="application/json",
        ).json()
        assert file_verdict["code"] == "ok"
        for bad in (
            {},
            {"presentation": "x", "license_file": {}},
            {"presentation": 5},
            {"license_file": {"format": "\ud800"}},
        ):
            assert (
                api.post(
                    "/api/v1/licenses/verifications", bad, content_type="application/json"
                ).status_code
                == 422
            )
        assert (
            api.post(
                "/api/v1/licenses/verifications",
                {"license_file": {"format": "x"}},
                content_type="application/json",
            ).json()["code"]
            == "malformed_file"
        )

    def test_staff_status_changes(
        self, licensed: dict[str, Any], issued: License, api: Client
    ) -> None:
        url = f"/api/v1/licenses/{issued.pk}/suspension"
        payload = {"reason": "核查"}
        post = lambda who, data=payload: api.post(  # noqa: E731
            url, data, content_type="application/json", **bearer(licensed[who])
        )
        assert post("citizen").status_code == 404
        assert post("other_department_staff").status_code == 404
        assert post("clerk").status_code == 403
        assert post("reviewer", {"reason": ""}).status_code == 422
        assert License.objects.get(pk=issued.pk).status == LicenseStatus.VALID
        response = post("reviewer")
        assert (response.status_code, response.json()["status"]) == (200, "suspended")
        assert post("reviewer").status_code == 409


# ---- portal pages -------------------------------------------------------------------------------


def login(client: Client, actor: Any) -> Client:
    client.force_login(actor.user)
    return client


class TestPages:
    def test_holder_pages(self, licensed: dict[str, Any], issued: License) -> None:
        client = login(Client(), licensed["citizen"])
        page = client.get("/licenses/")
        assert page.status_code == 200 and "户口簿（户籍证明）" in page.content.decode()
        detail = client.get(f"/licenses/{issued.pk}/").content.decode()
        assert issued.identifier in detail and "工作调动" in detail
        download = client.get(f"/licenses/{issued.pk}/file/")
        assert download.status_code == 200
        assert json.loads(download.content)["license"]["identifier"] == issued.identifier
        assert client.get(f"/licenses/{issued.pk}/present/").status_code == 200
        shown = client.post(f"/licenses/{issued.pk}/present/").content.decode()
        assert 'id="presentation-qr"' in shown and "data:image/svg+xml" in shown

    def test_other_citizen_and_agent_get_not_found(
        self, licensed: dict[str, Any], issued: License
    ) -> None:
        for who in ("other_citizen", "agent"):
            client = login(Client(), licensed[who])
            assert "户口簿" not in client.get("/licenses/").content.decode()
            for suffix in ("", "file/", "present/"):
                assert client.get(f"/licenses/{issued.pk}/{suffix}").status_code == 404

    def test_agent_sees_the_enterprise_licence(
        self, licensed: dict[str, Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        approve(
            licensed,
            django_capture_on_commit_callbacks,
            item=licensed["enterprise_item"],
            actor=licensed["agent"],
            enterprise_uscc=licensed["enterprise"].uscc,
        )
        page = login(Client(), licensed["agent"]).get("/licenses/").content.decode()
        assert "营业执照" in page and "广州合成科技有限公司" in page

    def test_anonymous_is_sent_to_login(self, issued: License) -> None:
        response = Client().get("/licenses/")
        assert response.status_code == 302 and "/login/" in response["Location"]

    def test_public_verification_page(self, licensed: dict[str, Any], issued: License) -> None:
        token = license_present(actor=licensed["citizen"], license_id=issued.pk).token
        page = Client().get("/licenses/verify/", {"token": token}).content.decode()
        assert 'data-code="ok"' in page and "证照真实有效" in page and "李*" in page
        upload = Client().post(
            "/licenses/verify/",
            {"license_file": _upload(license_file(issued), "license.json")},
        )
        assert 'data-code="ok"' in upload.content.decode()
        license_revoke(actor=licensed["reviewer"], license_id=issued.pk, reason="吊销")
        page = Client().post("/licenses/verify/", {"token": token}).content.decode()
        assert 'data-code="revoked"' in page and "证照已被吊销" in page
        assert Client().post("/licenses/verify/", {}).status_code == 422
        garbage = Client().post("/licenses/verify/", {"token": "garbage"}).content.decode()
        assert 'data-code="bad_presentation"' in garbage


def test_errors_and_verdicts_in_english(licensed: dict[str, Any], issued: License) -> None:
    """The English API and pages show English errors and verdicts; the offline verifier's
    verdicts stay as they are (Chinese, no Django settings)."""
    client = Client()
    client.cookies["django_language"] = "en"
    with translation.override(None):  # the language middleware leaves English active
        refused = client.post(
            "/api/v1/licenses/verifications",
            {"presentation": "x", "license_file": {}},
            content_type="application/json",
        ).json()
        garbage = client.post(
            "/api/v1/licenses/verifications",
            {"presentation": "garbage"},
            content_type="application/json",
        ).json()
        token = license_present(actor=licensed["citizen"], license_id=issued.pk).token
        page = client.get("/licenses/verify/", {"token": token}).content.decode()
        suspend = client.post(
            f"/api/v1/licenses/{issued.pk}/suspension",
            {"reason": "核查"},
            content_type="application/json",
            **bearer(licensed["clerk"]),
        ).json()
    assert refused["code"] == "one_of_required"
    assert refused["message"] == "Give either a presentation code or a licence file, not both"
    assert garbage["code"] == "bad_presentation"
    assert garbage["message"] == "The presentation code is not valid: it is in the wrong format"
    assert 'data-code="ok"' in page and "The licence is genuine and valid" in page
    assert suspend["code"] == "role_required"
    assert suspend["message"] == "You need the decision role to suspend a licence"
    assert license_file_verify(license_file(issued), trust_list_export()).message == "证照真实有效"


def _upload(content: bytes, name: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/json")


def test_seeded_types_have_valid_shapes() -> None:
    licenses_seed()
    names = set(LicenseType.objects.values_list("name", flat=True))
    assert {"营业执照", "出生医学证明", "户口簿（户籍证明）", "结婚证", "不动产权证书"} <= names
    for license_type in LicenseType.objects.all():
        identifier_build(
            type_code=license_type.code, issuer_code="11430000006122244L", serial="2026A1"
        )
        assert license_type.is_synthetic
    assert LicenseIssuance.objects.filter(
        implementation_code="11440000MB2D0234372440125017008", license_type__name="营业执照"
    ).exists()


def test_key_created_once_under_concurrency_is_stable(settings: Any) -> None:
    first = keys.private_key("test-stable")
    assert keys.private_key("test-stable") == first
    path = Path(settings.TONGBAN["KEY_DIR"]) / "licenses" / "test-stable.sm2"
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError):
        keys.private_key("../escape")


def test_offline_verifier_never_raises_on_odd_files(issued: License) -> None:
    trust = trust_list_export()
    good = _file(issued)
    odd_files = [
        {**good, "license": {**good["license"], "identifier": 5}},
        {**good, "signature": {**good["signature"], "value": "不是base64"}},
        {**good, "log": {**good["log"], "proof": [7, None]}},
        {**good, "log": {**good["log"], "index": -1}},
        {**good, "log": {**good["log"], "entry": "\ud800"}},
        {**good, "log": {**good["log"], "checkpoint": "garbage"}},
        {**good, "license": {**good["license"], "valid_until": "明年"}},
    ]
    for document in odd_files:
        content = json.dumps(document).encode()  # ASCII escapes keep the lone surrogate
        result = license_file_verify(content, trust)
        assert not result.ok and result.code in (
            "malformed_file",
            "tampered",
            "bad_proof",
            "bad_checkpoint",
            "wrong_key",
        ), document
