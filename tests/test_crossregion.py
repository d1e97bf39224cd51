"""跨省通办 (cases/crossregion.py): received in one region, handled in another, status synced —
between region tenants of one deployment and between two deployments on loopback."""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client, TestCase

from tongban.cases import crossregion
from tongban.cases.models import (
    Case,
    CaseStatus,
    CrossRegionOrigin,
    ReceivedApplication,
    ReceivedStage,
)
from tongban.cases.services import UploadedMaterial, case_transition
from tongban.catalog.services import item_publish
from tongban.core import interchange
from tongban.core.errors import DomainError
from tongban.core.models import InboundMessage, OutboundMessage
from tongban.core.services import calendar_seed_year
from tongban.identity.models import StaffRole

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
        assert not crossregion.received_applications_for_staff(
            actor=regions["zj_clerk_of_gd_request"]
        ).exists()
        with pytest.raises(DomainError) as citizen:
            crossregion.received_application_check(
                actor=regions["applicant"], received_id=received.pk, accept=True
            )
        assert citizen.value.status == 403


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
from tongban.cases.services import case_transition
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
