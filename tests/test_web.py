"""Portal and workbench pages, sign-in, security headers, admin scope, deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client

from tongban.cases.models import Case, CaseStatus
from tongban.core.models import AuditRecord
from tongban.identity.models import OneTimeCode, SmsMessage, StaffRole

from . import factories as f

pytestmark = pytest.mark.django_db


def staff_client(actor: Any) -> Client:
    client = Client()
    response = client.post(
        "/workbench/login/",
        {"username": actor.user.username, "password": f.PASSWORD, "otp": f.otp_now()},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def citizen_client(actor: Any) -> Client:
    client = Client()
    response = client.post(
        "/login/", {"method": "password", "phone": actor.citizen.phone, "password": f.PASSWORD}
    )
    assert response.status_code == 302
    return client


class TestPortal:
    def test_home_and_guide(self, world: dict[str, Any]) -> None:
        client = Client()
        home = client.get("/")
        assert home.status_code == 200
        assert "户籍办理" in home.content.decode()
        listing = client.get("/items/", {"q": "户口"}).content.decode()
        assert world["item"].name in listing
        guide = client.get(f"/items/{world['item'].implementation_code}/").content.decode()
        assert "承诺办结时限" in guide and "居民身份证" in guide

    def test_apply_requires_login(self, world: dict[str, Any]) -> None:
        response = Client().get(f"/items/{world['item'].implementation_code}/apply/")
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")

    def test_apply_form_is_accessible_and_validates(self, world: dict[str, Any]) -> None:
        client = citizen_client(world["citizen"])
        url = f"/items/{world['item'].implementation_code}/apply/"
        page = client.get(url).content.decode()
        assert '<label for="f_reason">' in page and 'id="f_reason"' in page
        response = client.post(url, {"reason": "", "submission_token": "t1"})
        body = response.content.decode()
        assert response.status_code == 422
        assert (
            'aria-invalid="true"' in body
            and "请填写“申请事由”" in body
            and "必要材料，请上传" in body
        )
        assert Case.objects.count() == 0

    def test_apply_through_the_portal(self, world: dict[str, Any]) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile

        client = citizen_client(world["citizen"])
        url = f"/items/{world['item'].implementation_code}/apply/"
        data = {
            **f.VALID_FORM,
            "submission_token": "tok-1",
            "material_M01": SimpleUploadedFile("id.pdf", f.PDF),
        }
        response = client.post(url, data)
        assert response.status_code == 302
        case = Case.objects.get()
        assert response["Location"] == f"/me/cases/{case.pk}/"
        # A double click re-posts the same token: still one case.
        data["material_M01"] = SimpleUploadedFile("id.pdf", f.PDF)
        assert client.post(url, data).status_code == 302
        assert Case.objects.count() == 1
        page = client.get(f"/me/cases/{case.pk}/").content.decode()
        assert "已提交" in page and case.case_number in page

    def test_other_citizen_cannot_see_a_case_or_its_material(
        self, world: dict[str, Any], submitted: Case
    ) -> None:
        owner = citizen_client(world["citizen"])
        other = citizen_client(world["other_citizen"])
        material = submitted.application.materials.get()
        assert owner.get(f"/materials/{material.pk}/").status_code == 200
        assert other.get(f"/me/cases/{submitted.pk}/").status_code == 404
        assert other.get(f"/materials/{material.pk}/").status_code == 404
        assert Client().get(f"/materials/{material.pk}/").status_code == 404

    def test_sms_code_login(self, world: dict[str, Any]) -> None:
        client = Client()
        phone = world["citizen"].citizen.phone
        with self.captureOnCommit():
            client.post("/login/", {"method": "send_code", "phone": phone})
        message = SmsMessage.objects.get(phone=phone)
        code = message.text.split("验证码是 ")[1][:6]
        assert (
            client.post(
                "/login/",
                {
                    "method": "sms",
                    "phone": phone,
                    "code": "000000" if code != "000000" else "111111",
                },
            ).status_code
            == 401
        )
        response = client.post("/login/", {"method": "sms", "phone": phone, "code": code})
        assert response.status_code == 302
        assert OneTimeCode.objects.get().used is True
        # A used code cannot be replayed.
        assert (
            Client().post("/login/", {"method": "sms", "phone": phone, "code": code}).status_code
            == 401
        )

    def test_login_errors_in_the_chosen_language(self, world: dict[str, Any]) -> None:
        wrong = {"method": "password", "phone": world["citizen"].citizen.phone, "password": "x"}
        chinese = Client().post("/login/", wrong)
        assert chinese.status_code == 401 and "用户名或密码错误" in chinese.content.decode()
        client = Client()
        client.cookies["django_language"] = "en"
        english = client.post("/login/", {"method": "send_code", "phone": "123"})
        assert "Enter a mobile number of 11 digits starting with 1" in english.content.decode()
        english = client.post("/login/", wrong)
        assert english.status_code == 401
        assert "The username or password is wrong" in english.content.decode()

    @staticmethod
    def captureOnCommit() -> Any:
        from django.test import TestCase

        return TestCase.captureOnCommitCallbacks(execute=True)

    def test_session_rotates_at_login(self, world: dict[str, Any]) -> None:
        client = Client()
        client.get("/login/")
        client.cookies["sessionid"] = "attacker-fixed-session"
        client.post(
            "/login/",
            {"method": "password", "phone": world["citizen"].citizen.phone, "password": f.PASSWORD},
        )
        assert client.cookies["sessionid"].value != "attacker-fixed-session"


class TestWorkbench:
    def test_staff_login_needs_totp(self, world: dict[str, Any]) -> None:
        response = Client().post(
            "/workbench/login/",
            {"username": world["clerk"].user.username, "password": f.PASSWORD, "otp": "000000"},
        )
        assert response.status_code == 401

    def test_citizen_session_cannot_open_workbench(self, world: dict[str, Any]) -> None:
        response = citizen_client(world["citizen"]).get("/workbench/")
        assert response.status_code == 302

    def test_queue_masks_and_detail_reveals_with_audit(
        self, world: dict[str, Any], submitted: Case
    ) -> None:
        client = staff_client(world["clerk"])
        citizen = world["citizen"].citizen
        queue = client.get("/workbench/").content.decode()
        assert "李*" in queue and citizen.id_number not in queue and submitted.case_number in queue
        detail = client.get(f"/workbench/cases/{submitted.pk}/").content.decode()
        assert citizen.id_number in detail and "李明" in detail
        assert (
            AuditRecord.objects.filter(
                action="case.view_unmasked", object_id=str(submitted.pk)
            ).count()
            == 1
        )

    def test_action_buttons_move_the_case(self, world: dict[str, Any], submitted: Case) -> None:
        client = staff_client(world["clerk"])
        response = client.post(
            f"/workbench/cases/{submitted.pk}/actions/", {"action": "accept", "version": "0"}
        )
        assert response.status_code == 302
        assert Case.objects.get(pk=submitted.pk).status == CaseStatus.ACCEPTED
        # A second click with the stale version is refused, nothing changes.
        client.post(
            f"/workbench/cases/{submitted.pk}/actions/", {"action": "accept", "version": "0"}
        )
        assert Case.objects.get(pk=submitted.pk).version == 1

    def test_out_of_scope_case_is_404(self, world: dict[str, Any], submitted: Case) -> None:
        client = staff_client(world["other_department_staff"])
        assert client.get(f"/workbench/cases/{submitted.pk}/").status_code == 404
        assert (
            client.post(
                f"/workbench/cases/{submitted.pk}/actions/", {"action": "accept"}
            ).status_code
            == 404
        )
        assert (
            client.get(f"/materials/{submitted.application.materials.get().pk}/").status_code == 404
        )

    def test_csrf_is_enforced(self, world: dict[str, Any], submitted: Case) -> None:
        client = Client(enforce_csrf_checks=True)
        response = client.post(
            "/login/", {"method": "password", "phone": "13800000000", "password": "x"}
        )
        assert response.status_code == 403

    def test_yellow_and_red_filters(self, world: dict[str, Any]) -> None:
        import time_machine

        from tongban.cases.submission.services import (
            UploadedMaterial,
            application_submit,
            case_transition,
        )

        with time_machine.travel("2026-09-30 10:00 +0800", tick=False):
            case = application_submit(
                actor=world["citizen"],
                item_code=world["item"].implementation_code,
                form_data=dict(f.VALID_FORM),
                materials=[UploadedMaterial("M01", "a.pdf", f.PDF)],
            ).case
            case_transition(actor=world["clerk"], case_id=case.pk, action="accept")
        client = staff_client(world["clerk"])
        with time_machine.travel("2026-10-14 10:00 +0800", tick=False):
            red = client.get(
                "/workbench/", {"colour": "red"}, HTTP_HX_REQUEST="true"
            ).content.decode()
            yellow = client.get(
                "/workbench/", {"colour": "yellow"}, HTTP_HX_REQUEST="true"
            ).content.decode()
        assert case.case_number in red and "已超期" in red
        assert case.case_number not in yellow


class TestHeadersAndErrors:
    def test_security_headers(self, world: dict[str, Any]) -> None:
        response = Client().get("/")
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"

    def test_unknown_page_is_a_friendly_404(self, world: dict[str, Any]) -> None:
        response = Client().get("/no-such-page/")
        assert response.status_code == 404
        assert "页面不存在" in response.content.decode()

    def test_bad_case_id_in_url_is_404_not_500(self, world: dict[str, Any]) -> None:
        client = citizen_client(world["citizen"])
        assert client.get("/me/cases/not-a-uuid/").status_code == 404


class TestAdminScope:
    def test_catalog_admin_sees_only_their_region(self, world: dict[str, Any]) -> None:
        zhejiang_item = f.item(f.department("330100", "杭州市公安局"), name="杭州事项")
        admin = f.staff(f.department("440000", "广东省政务服务数据管理局"), [StaffRole.ADMIN])
        client = staff_client(admin)
        listing = client.get("/admin/catalog/serviceitem/").content.decode()
        assert world["item"].name in listing and "杭州事项" not in listing
        assert client.get(f"/admin/catalog/serviceitem/{zhejiang_item.pk}/change/").status_code in (
            302,
            404,
        )

    def test_admin_edit_publishes_a_new_version(
        self, world: dict[str, Any], submitted: Case
    ) -> None:
        admin = f.staff(f.department("440000", "广东省政务服务数据管理局"), [StaffRole.ADMIN])
        client = staff_client(admin)
        item = world["item"]
        url = f"/admin/catalog/serviceitem/{item.pk}/change/"
        page = client.get(url)
        assert page.status_code == 200
        form = page.context["adminform"].form
        data = {name: form.initial.get(name) for name in form.fields}
        data = {k: ("" if v is None else v) for k, v in data.items()}
        import json

        data.update(
            {
                "name": "户口迁入登记（2027版）",
                "committed_limit_days": 3,
                "form_schema": json.dumps(item.form_schema, ensure_ascii=False),
                "service_objects": json.dumps(item.service_objects),
                "themes": json.dumps(item.themes),
                "department": item.department_id,
                "division": item.division_id,
                "is_published": "on",
                "materials-TOTAL_FORMS": "2",
                "materials-INITIAL_FORMS": "2",
                "materials-MIN_NUM_FORMS": "0",
                "materials-MAX_NUM_FORMS": "1000",
            }
        )
        data.pop("cross_province", None)
        for index, material in enumerate(item.materials.order_by("order")):
            data.update(
                {
                    f"materials-{index}-id": material.pk,
                    f"materials-{index}-item": item.pk,
                    f"materials-{index}-order": material.order,
                    f"materials-{index}-code": material.code,
                    f"materials-{index}-name": material.name
                    if index == 0
                    else "结婚证（或婚姻登记证明）",
                    f"materials-{index}-material_type": material.material_type,
                    **({f"materials-{index}-is_mandatory": "on"} if material.is_mandatory else {}),
                }
            )
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:3000]
        item.refresh_from_db()
        assert item.current_version.number == 2
        assert item.current_version.name == "户口迁入登记（2027版）"
        assert [m["name"] for m in item.current_version.materials] == [
            "居民身份证",
            "结婚证（或婚姻登记证明）",
        ]
        assert Case.objects.get(pk=submitted.pk).item_version.number == 1

    def test_calendar_warning_for_unofficial_year(self, world: dict[str, Any]) -> None:
        import time_machine
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_superuser("root", password=f.PASSWORD)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        TOTPDevice.objects.create(
            user=get_user_model().objects.get(username="root"),
            name="d",
            confirmed=True,
            key=f.TOTP_KEY,
        )
        client = Client()
        with time_machine.travel("2026-12-01 10:00 +0800", tick=True):
            assert (
                client.post(
                    "/workbench/login/",
                    {"username": "root", "password": f.PASSWORD, "otp": f.otp_now()},
                ).status_code
                == 302
            )
            page = client.get("/admin/core/holiday/").content.decode()
        assert "2027" in page and "尚无官方节假日安排" in page


def test_check_deploy_is_clean_with_production_settings() -> None:
    """Clean with what a production deployment sets (README); each missing one is named."""
    from tongban.core.crypto import sm2_keypair

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tongban.config.settings.production",
        "SECRET_KEY": "p" * 30 + "Q9!x" * 10,
        "ALLOWED_HOSTS": "zwfw.example.gov.cn",
        "TONGBAN_CACHE_URL": "redis://127.0.0.1:6379/1",
        "TONGBAN_BACKUP_PUBLIC_KEY": sm2_keypair()[1],
    }
    env.pop("DATABASE_URL", None)
    result = _check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    for setting, check in (("TONGBAN_CACHE_URL", "W001"), ("TONGBAN_BACKUP_PUBLIC_KEY", "W002")):
        result = _check_deploy({name: value for name, value in env.items() if name != setting})
        assert result.returncode == 1 and f"tongban.{check}" in result.stderr + result.stdout


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_a_missing_secret_key() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tongban.config.settings.production",
        "SECRET_KEY": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_argon2_is_the_password_hasher_in_production() -> None:
    from tongban.config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_admin_login_requires_totp(world: dict[str, Any]) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root2", password=f.PASSWORD)
    client = Client()
    response = client.post("/admin/login/", {"username": "root2", "password": f.PASSWORD})
    assert response.status_code == 200  # the form asks again: an OTP token is required
    assert client.get("/admin/").status_code == 302


def test_portal_in_english(world: dict[str, Any]) -> None:
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "One portal, done in one go" in page and "Search services" in page
    assert '<html lang="zh-hans">' in Client().get("/").content.decode()
    # The browser's Accept-Language does not switch the language; only the person's choice does.
    english_browser = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get("/").content.decode()
    assert '<html lang="zh-hans">' in english_browser


def test_sms_codes_are_rate_limited_and_unknown_numbers_get_no_message(
    world: dict[str, Any],
) -> None:
    import time_machine

    from tongban.identity.errors import TooManyRequests
    from tongban.identity.services import sms_code_send

    phone = world["citizen"].citizen.phone
    with time_machine.travel("2026-11-26 09:00 +0800", tick=False) as traveller:
        sms_code_send(phone=phone)
        with pytest.raises(TooManyRequests) as error:
            sms_code_send(phone=phone)
        assert error.value.code == "sms_code_too_soon"
        for _ in range(9):
            traveller.shift(61)
            sms_code_send(phone=phone)
        traveller.shift(61)
        with pytest.raises(TooManyRequests) as error:
            sms_code_send(phone=phone)
        assert error.value.code == "sms_code_daily_limit"
        sms_code_send(phone="13312345678")  # no account: same answer, nothing sent
    assert not SmsMessage.objects.filter(phone="13312345678").exists()


class TestRegistration:
    def _code(self, phone: str) -> str:
        return SmsMessage.objects.filter(phone=phone).latest("sent_at").text.split("验证码 ")[1][:6]

    def test_register_with_sms_code(self, world: dict[str, Any]) -> None:
        from datetime import date

        from django.test import TestCase

        from tongban.core.ids import synthetic_id_number
        from tongban.identity.models import Citizen

        client = Client()
        phone = "13612345678"
        number = synthetic_id_number("440106", date(1995, 6, 1), 11)
        typo = number[:-1] + ("0" if number[-1] != "0" else "1")
        person = {"phone": phone, "real_name": "赵敏", "password": "Qz7!long-pass"}
        with TestCase.captureOnCommitCallbacks(execute=True):
            client.post("/register/", {**person, "step": "send_code", "id_number": number})
        code = self._code(phone)
        bad = client.post(
            "/register/", {**person, "step": "register", "id_number": typo, "code": code}
        )
        assert bad.status_code == 422
        assert "身份证号码校验位不正确" in bad.content.decode()
        wrong = "000000" if code != "000000" else "111111"
        assert (
            client.post(
                "/register/", {**person, "step": "register", "id_number": number, "code": wrong}
            ).status_code
            == 422
        )
        # The typo did not use up the code; the right one still works.
        response = client.post(
            "/register/", {**person, "step": "register", "id_number": number, "code": code}
        )
        assert response.status_code == 302
        citizen = Citizen.objects.get(phone=phone)
        assert (citizen.real_name, citizen.id_number) == ("赵敏", number)
        assert client.get("/me/cases/").status_code == 200

    def test_registration_code_is_not_sent_to_a_registered_number(
        self, world: dict[str, Any]
    ) -> None:
        from django.test import TestCase

        phone = world["citizen"].citizen.phone
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = Client().post("/register/", {"step": "send_code", "phone": phone})
        assert response.status_code == 200
        assert not SmsMessage.objects.filter(phone=phone).exists()

    def test_wrong_codes_burn_the_code(self, world: dict[str, Any]) -> None:
        from django.test import TestCase

        from tongban.identity.errors import AuthenticationFailed
        from tongban.identity.services import sms_code_login

        phone = world["citizen"].citizen.phone
        with TestCase.captureOnCommitCallbacks(execute=True):
            Client().post("/login/", {"method": "send_code", "phone": phone})
        code = SmsMessage.objects.get(phone=phone).text.split("验证码是 ")[1][:6]
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            with pytest.raises(AuthenticationFailed):
                sms_code_login(phone=phone, code=wrong)
        with pytest.raises(AuthenticationFailed) as error:
            sms_code_login(phone=phone, code=code)
        assert error.value.code == "sms_code_expired"
        assert OneTimeCode.objects.get(phone=phone).attempts == 5
        failures = AuditRecord.objects.filter(action="login", outcome="failure").count()
        assert failures == 6


class TestSessions:
    def test_idle_timeout(self, world: dict[str, Any], settings: Any) -> None:
        import time_machine

        with time_machine.travel("2026-11-26 09:00 +0800", tick=False) as traveller:
            client = citizen_client(world["citizen"])
            assert client.get("/me/cases/").status_code == 200
            traveller.shift(settings.SESSION_COOKIE_AGE - 60)
            assert client.get("/me/cases/").status_code == 200  # activity renews the idle timer
            traveller.shift(settings.SESSION_COOKIE_AGE + 60)
            assert client.get("/me/cases/").status_code == 302

    def test_absolute_timeout(self, world: dict[str, Any], settings: Any) -> None:
        import time_machine

        limit = settings.TONGBAN.get("SESSION_ABSOLUTE_SECONDS", 8 * 3600)
        with time_machine.travel("2026-11-26 09:00 +0800", tick=False) as traveller:
            client = staff_client(world["clerk"])
            for _ in range(limit // 1200):
                traveller.shift(1200)  # busy all day, never idle for long
                assert client.get("/workbench/").status_code == 200
            traveller.shift(1300)
            assert client.get("/workbench/").status_code == 302


def test_out_of_scope_read_is_audited_once(world: dict[str, Any], submitted: Case) -> None:
    client = staff_client(world["other_department_staff"])
    before = AuditRecord.objects.filter(outcome="denied").count()
    assert client.get(f"/workbench/cases/{submitted.pk}/").status_code == 404
    assert (
        client.post(f"/workbench/cases/{submitted.pk}/actions/", {"action": "accept"}).status_code
        == 404
    )
    denied = list(AuditRecord.objects.filter(outcome="denied").order_by("sequence")[before:])
    assert [record.action for record in denied] == ["request.denied", "case.accept"]
    assert all(
        record.actor == f"staff:{world['other_department_staff'].user.pk}" for record in denied
    )


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", "/items/", {"q": "户口\x00"}),
        ("get", "/items/", {"region": "44\x00"}),
        ("post", "/register/", {"step": "send_code", "phone": "138", "real_name": "张\x00三"}),
        ("post", "/login/", {"method": "password", "phone": "1\x00", "password": "x"}),
    ],
)
def test_nul_characters_are_a_clear_400(
    world: dict[str, Any], method: str, url: str, data: dict[str, str]
) -> None:
    response = getattr(Client(), method)(url, data)
    assert response.status_code == 400
    assert "不允许的字符" in response.content.decode()


def test_database_outage_on_a_page_is_a_503(world: dict[str, Any], monkeypatch: Any) -> None:
    from django.db import OperationalError

    from tongban.web import views

    def broken(**kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "items_list", broken)
    response = Client().get("/items/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert (
        "服务暂时不可用" in response.content.decode()
        and "Traceback" not in response.content.decode()
    )
