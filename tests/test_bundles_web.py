"""一件事 pages: guide with the critical path, the merged apply form, my bundle, staff marks."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tongban.cases.models import BundleCase, CaseStatus

from . import factories as f
from .test_bundles import _form, newborn  # noqa: F401 — the fixture


def _login(client: Client, actor: Any) -> None:
    client.force_login(actor.user)


def test_guide_shows_critical_path_beside_separate_limits(newborn: dict[str, Any]) -> None:  # noqa: F811
    page = Client().get("/bundles/newborn/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "分别办理 5 个工作日 → 一件事 4 个工作日" in text
    assert "无，立即并联办理" in text
    listing = Client().get("/bundles/").content.decode()
    assert "新生儿出生一件事" in listing and "→ 一件事 4 个工作日" in listing
    assert Client().get("/bundles/nothing/").status_code == 404


def test_apply_once_then_see_bundle_and_children(newborn: dict[str, Any]) -> None:  # noqa: F811
    client = Client()
    _login(client, newborn["guardian"])
    form_page = client.get("/bundles/newborn/apply/").content.decode()
    assert form_page.count('name="child.name"') == 1
    assert form_page.count('name="material_B01"') == 1
    response = client.post(
        "/bundles/newborn/apply/",
        {
            **_form(newborn),
            "submission_token": "web-1",
            "material_B01": SimpleUploadedFile("id.pdf", f.PDF, "application/pdf"),
        },
    )
    bundle_case = BundleCase.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/me/bundles/{bundle_case.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert page.count('data-status="waiting"') == 2 and page.count('data-status="submitted"') == 2
    assert "等待" in page and "出生医学证明签发" in page
    mine = client.get("/me/cases/").content.decode()
    assert "新生儿出生一件事" in mine
    other = Client()
    _login(other, newborn["other_citizen"])
    assert other.get(f"/me/bundles/{bundle_case.pk}/").status_code == 404


def test_invalid_apply_is_422_and_creates_nothing(newborn: dict[str, Any]) -> None:  # noqa: F811
    client = Client()
    _login(client, newborn["guardian"])
    response = client.post("/bundles/newborn/apply/", {"child.name": "张小宝"})
    assert response.status_code == 422
    assert not BundleCase.objects.exists()


def test_staff_queue_marks_bundle_children(newborn: dict[str, Any]) -> None:  # noqa: F811
    client = Client()
    _login(client, newborn["guardian"])
    client.post(
        "/bundles/newborn/apply/",
        {
            **_form(newborn),
            "material_B01": SimpleUploadedFile("id.pdf", f.PDF, "application/pdf"),
        },
    )
    clerk, _ = newborn["staff"]["police"]
    staff_client = Client()
    staff_client.post(
        "/workbench/login/",
        {"username": clerk.user.username, "password": f.PASSWORD, "otp": f.otp_now()},
    )
    queue = staff_client.get("/workbench/").content.decode()
    assert "一件事：新生儿出生一件事" in queue
    assert CaseStatus.WAITING.label in queue
