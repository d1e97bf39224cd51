"""Authorization matrix (issue 3, item 1).

Every endpoint — each operation of the OpenAPI document and each page of the URL conf — is
called as every role, on objects the role owns and on objects it does not. The expected status
of every (endpoint, role) cell is declared in one table below; an endpoint missing from the
table fails `test_every_endpoint_has_an_entry`. Writes by a role that may not write are
checked to change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tongban.cases.bundles.services import bundle_submit
from tongban.cases.crossregion.services import received_application_submit
from tongban.cases.models import (
    Application,
    BundleCase,
    Case,
    CaseStatus,
    CaseTransition,
    ReceivedApplication,
    ReceivedStage,
    StuckAlert,
)
from tongban.cases.submission.services import UploadedMaterial, application_submit, case_transition
from tongban.cases.supervision.collaboration import assist_task_create
from tongban.cases.supervision.services import stuck_detect
from tongban.catalog.bundles import bundle_save
from tongban.catalog.models import Material
from tongban.catalog.services import item_publish
from tongban.core import clock
from tongban.core.audit import Outcome
from tongban.core.models import AuditRecord, Division
from tongban.core.services import calendar_seed_year
from tongban.exchange.services import consent_give, grant_request, registries_seed
from tongban.identity.models import Department, StaffRole
from tongban.identity.services import api_token_issue, enterprise_register
from tongban.interchange.services import peer_save, region_public_key
from tongban.ledger.services import checkpoint_publish, log_append
from tongban.licenses.models import License, LicenseIssuance, LicenseStatus, LicenseType
from tongban.licenses.seed import licenses_seed
from tongban.licenses.services import license_issue

from .. import factories as f
from ..test_licenses import HOUSEHOLD_MAPPING

pytestmark = [pytest.mark.harness, pytest.mark.django_db]

ROLES = (
    "anonymous",
    "owner",  # the citizen who applied
    "other_citizen",
    "enterprise_agent",  # a citizen acting for an enterprise (not the applicant)
    "clerk",  # owning department, intake
    "reviewer",  # owning department, review + decision
    "other_department",  # same city, another department, all roles
    "other_region",  # another province, all roles
    "catalog_admin",  # provincial administrator (管理), no case roles
    "superuser",
)


@dataclass(frozen=True)
class Cell:
    status: int
    check: str = ""  # name of an extra assertion in CHECKS
    # A refusal the page answers with a redirect and a message, not an error status.
    refused: bool = False


def row(default: int, **overrides: int | Cell) -> dict[str, Cell]:
    cells = {role: Cell(default) for role in ROLES}
    for role, value in overrides.items():
        cells[role] = value if isinstance(value, Cell) else Cell(value)
    return cells


CASE_HANDLERS_ONLY = {"clerk": 200, "reviewer": 200}
NOT_FOUND_FOR_OUTSIDERS = {role: 404 for role in ROLES if role != "anonymous"}

# ---- The table: (method, endpoint) → expected status per role. ----
API: dict[tuple[str, str], dict[str, Cell]] = {
    ("GET", "/api/openapi.json"): row(200),
    ("POST", "/api/v1/auth/token"): row(401),  # wrong password for everyone
    ("GET", "/api/v1/catalog/items"): row(200),
    ("GET", "/api/v1/catalog/items/{code}"): row(200),
    ("POST", "/api/v1/applications"): row(
        403, anonymous=401, owner=201, other_citizen=201, enterprise_agent=201
    ),
    ("GET", "/api/v1/applications"): row(
        200,
        anonymous=401,
        owner=Cell(200, "sees_own_case"),
        other_citizen=Cell(200, "sees_no_case"),
        clerk=Cell(200, "sees_no_case"),
    ),
    ("GET", "/api/v1/applications/{application_id}"): row(404, anonymous=401, owner=200),
    ("POST", "/api/v1/applications/{application_id}/cases/{case_id}/resubmission"): row(
        404, anonymous=401, owner=200
    ),
    ("GET", "/api/v1/cases"): row(
        403,
        anonymous=401,
        clerk=Cell(200, "sees_own_case"),
        reviewer=Cell(200, "sees_own_case"),
        other_department=Cell(200, "sees_no_case"),
        other_region=Cell(200, "sees_no_case"),
        catalog_admin=Cell(200, "sees_no_case"),
    ),
    ("GET", "/api/v1/cases/{case_id}"): row(404, anonymous=401, **CASE_HANDLERS_ONLY),
    # Interchange: peers authenticate by signature, not by account: no role gets further
    # without the sender region's key (the request carries none → unknown sender).
    ("GET", "/api/v1/interchange/regions/{code}"): row(200),
    ("POST", "/api/v1/interchange/messages"): row(403),
    # Ledger: the log is public to read; witnessing another region's log is for administrators
    # (the empty body then fails validation: 422 — authorisation is checked first).
    ("GET", "/api/v1/ledger/logs"): row(200),
    ("GET", "/api/v1/ledger/logs/{name}/checkpoint"): row(200),
    ("GET", "/api/v1/ledger/logs/{name}/tree-head"): row(200),
    ("GET", "/api/v1/ledger/logs/{name}/entries/{index}"): row(200),
    ("GET", "/api/v1/ledger/logs/{name}/consistency"): row(200),
    ("GET", "/api/v1/ledger/witness"): row(200),
    ("POST", "/api/v1/ledger/witness"): row(403, anonymous=401, catalog_admin=422, superuser=422),
    # Exchange: lookups and verifications need a system key bound to a department (no account
    # gets in); grants are for staff of the item's department (review/decision roles);
    # consents, the data-use record and prefill for applicants; alerts for security officers
    # (no role of the matrix is one).
    ("GET", "/api/v1/exchange/elements"): row(200),
    ("POST", "/api/v1/exchange/lookups"): row(401),
    ("POST", "/api/v1/exchange/verifications"): row(401),
    ("GET", "/api/v1/exchange/grants"): row(
        200, anonymous=401, owner=403, other_citizen=403, enterprise_agent=403, superuser=403
    ),
    ("POST", "/api/v1/exchange/grants"): row(403, anonymous=401, reviewer=201),
    ("POST", "/api/v1/exchange/grants/{grant_id}/decision"): row(
        403, anonymous=401, reviewer=200, other_department=404, other_region=404, catalog_admin=404
    ),
    ("GET", "/api/v1/exchange/consents"): row(
        403, anonymous=401, owner=200, other_citizen=200, enterprise_agent=200
    ),
    ("POST", "/api/v1/exchange/consents"): row(
        403, anonymous=401, owner=201, other_citizen=201, enterprise_agent=201
    ),
    ("POST", "/api/v1/exchange/consents/{consent_id}/revocation"): row(
        403, anonymous=401, owner=200, other_citizen=404, enterprise_agent=404
    ),
    ("GET", "/api/v1/exchange/data-use"): row(
        403, anonymous=401, owner=200, other_citizen=200, enterprise_agent=200
    ),
    ("POST", "/api/v1/exchange/prefill"): row(
        403, anonymous=401, owner=200, other_citizen=200, enterprise_agent=200
    ),
    ("GET", "/api/v1/exchange/alerts"): row(403, anonymous=401),
    ("POST", "/api/v1/exchange/alerts/{alert_id}/acknowledgement"): row(403, anonymous=401),
    ("GET", "/api/v1/exchange/availability"): row(403, anonymous=401),
    # 跨省通办: applicants apply here for another region's cross-province item; the receiving
    # region's staff see its desk; intake staff of the region check and hand over.
    ("POST", "/api/v1/cross-region/applications"): row(
        403, anonymous=401, owner=201, other_citizen=201, enterprise_agent=201
    ),
    ("GET", "/api/v1/cross-region/applications"): row(
        200,
        anonymous=401,
        owner=Cell(200, "sees_own_received"),
        other_citizen=Cell(200, "sees_no_received"),
    ),
    ("GET", "/api/v1/cross-region/applications/{received_id}"): row(404, anonymous=401, owner=200),
    # 跨省补正: only the applicant answers; the world's application awaits no correction, so
    # the owner gets past authorisation to the state check (409; test_crossregion: 200).
    ("POST", "/api/v1/cross-region/applications/{received_id}/resubmission"): row(
        403, anonymous=401, owner=409, other_citizen=404, enterprise_agent=404
    ),
    # 多地联办: any applicant may apply (two parts, two cross-province items).
    ("POST", "/api/v1/cross-region/joint-applications"): row(
        403,
        anonymous=401,
        owner=Cell(201, "one_more_received"),
        other_citizen=Cell(201, "one_more_received"),
        enterprise_agent=Cell(201, "one_more_received"),
    ),
    ("GET", "/api/v1/cross-region/received"): row(
        200,
        anonymous=401,
        owner=403,
        other_citizen=403,
        enterprise_agent=403,
        clerk=Cell(200, "sees_own_received"),
        other_region=Cell(200, "sees_no_received"),
        superuser=403,
    ),
    ("POST", "/api/v1/cross-region/received/{received_id}/check"): row(
        403,
        anonymous=401,
        clerk=Cell(200, "handed_over"),
        other_department=Cell(200, "handed_over"),  # any intake window of the region
        other_region=404,
    ),
    # 一件事: bundles are public to read; a bundle case is its applicant's alone.
    ("GET", "/api/v1/catalog/bundles"): row(200),
    ("GET", "/api/v1/catalog/bundles/{code}"): row(200),
    ("POST", "/api/v1/bundle-cases"): row(
        403, anonymous=401, owner=201, other_citizen=201, enterprise_agent=201
    ),
    ("GET", "/api/v1/bundle-cases"): row(
        200,
        anonymous=401,
        owner=Cell(200, "sees_own_bundle_case"),
        other_citizen=Cell(200, "sees_no_bundle_case"),
        clerk=Cell(200, "sees_no_bundle_case"),
    ),
    ("GET", "/api/v1/bundle-cases/{bundle_case_id}"): row(404, anonymous=401, owner=200),
    ("POST", "/api/v1/bundle-cases/{bundle_case_id}/resubmission"): row(
        404, anonymous=401, owner=200
    ),
    # Collaboration: the lead department's handlers ask others to assist and transfer; the
    # assisting department sees its task (not the case). Supervision: alerts to the case's
    # department and supervisors (no role of the matrix supervises: escalation is refused).
    ("POST", "/api/v1/collaboration/cases/{case_id}/assist-tasks"): row(
        404, anonymous=401, clerk=201, reviewer=201
    ),
    ("GET", "/api/v1/collaboration/cases/{case_id}/assist-tasks"): row(
        404, anonymous=401, clerk=200, reviewer=200
    ),
    ("GET", "/api/v1/collaboration/cases/{case_id}/handoffs"): row(
        404, anonymous=401, clerk=200, reviewer=200
    ),
    ("POST", "/api/v1/collaboration/cases/{case_id}/transfer"): row(
        404, anonymous=401, clerk=200, reviewer=403
    ),
    ("POST", "/api/v1/collaboration/cases/{case_id}/transfer/pickup"): row(
        404,
        anonymous=401,
        clerk=409,
        reviewer=409,  # nothing to pick up
    ),
    ("GET", "/api/v1/collaboration/assist-tasks"): row(
        200,
        anonymous=401,
        owner=403,
        other_citizen=403,
        enterprise_agent=403,
        clerk=Cell(200, "sees_no_task"),
        other_department=Cell(200, "sees_own_task"),
        other_region=Cell(200, "sees_no_task"),
        superuser=403,
    ),
    ("GET", "/api/v1/collaboration/assist-tasks/{task_id}"): row(
        404, anonymous=401, other_department=200
    ),
    ("POST", "/api/v1/collaboration/assist-tasks/{task_id}/pickup"): row(
        404, anonymous=401, other_department=200
    ),
    ("POST", "/api/v1/collaboration/assist-tasks/{task_id}/answer"): row(
        404, anonymous=401, other_department=200
    ),
    ("GET", "/api/v1/supervision/alerts"): row(
        200,
        anonymous=401,
        owner=403,
        other_citizen=403,
        enterprise_agent=403,
        clerk=Cell(200, "sees_own_case"),
        reviewer=Cell(200, "sees_own_case"),
        other_department=Cell(200, "sees_no_case"),
        other_region=Cell(200, "sees_no_case"),
        catalog_admin=Cell(200, "sees_no_case"),
        superuser=403,
    ),
    ("GET", "/api/v1/supervision/summary"): row(
        200, anonymous=401, owner=403, other_citizen=403, enterprise_agent=403, superuser=403
    ),
    ("POST", "/api/v1/supervision/alerts/{alert_id}/escalation"): row(403, anonymous=401),
    # Licences: the owner's licence (issued from the owner's approved case) is theirs alone;
    # status changes are for the issuing department's decision-makers.
    ("GET", "/api/v1/licenses/trust-list"): row(200),
    ("POST", "/api/v1/licenses/verifications"): row(422),  # empty body: nothing to verify
    ("GET", "/api/v1/licenses"): row(
        200,
        anonymous=401,
        owner=Cell(200, "sees_own_license"),
        other_citizen=Cell(200, "sees_no_license"),
    ),
    ("GET", "/api/v1/licenses/{license_id}"): row(404, anonymous=401, owner=200),
    ("GET", "/api/v1/licenses/{license_id}/file"): row(404, anonymous=401, owner=200),
    ("POST", "/api/v1/licenses/{license_id}/presentations"): row(404, anonymous=401, owner=201),
    ("POST", "/api/v1/licenses/{license_id}/suspension"): row(
        404, anonymous=401, clerk=403, reviewer=Cell(200, "license_suspended")
    ),
    ("POST", "/api/v1/licenses/{license_id}/reinstatement"): row(
        404,
        anonymous=401,
        clerk=403,
        reviewer=409,  # not suspended
    ),
    ("POST", "/api/v1/licenses/{license_id}/revocation"): row(
        404, anonymous=401, clerk=403, reviewer=Cell(200, "license_revoked")
    ),
    ("POST", "/api/v1/cases/{case_id}/transitions"): row(
        404, anonymous=401, clerk=Cell(200, "accepted"), reviewer=403
    ),
}

WEB: dict[tuple[str, str], dict[str, Cell]] = {
    ("GET", "healthz"): row(200),
    ("GET", "api:openapi-view"): row(200),
    ("POST", "set_language"): row(302),
    ("GET", "web:home"): row(200),
    ("GET", "web:item_list"): row(200),
    ("GET", "web:item_guide"): row(200),
    ("GET", "web:apply"): row(302, owner=200, other_citizen=200, enterprise_agent=200),
    ("POST", "web:apply"): row(
        302,
        owner=Cell(302, "one_more_case"),
        other_citizen=Cell(302, "one_more_case"),
        enterprise_agent=Cell(302, "one_more_case"),
    ),
    ("GET", "web:my_cases"): row(
        302,
        owner=Cell(200, "page_shows_case"),
        other_citizen=Cell(200, "page_hides_case"),
        enterprise_agent=Cell(200, "page_hides_case"),
    ),
    ("GET", "web:my_case"): row(302, owner=200, other_citizen=404, enterprise_agent=404),
    ("GET", "web:resubmit"): row(302, owner=200, other_citizen=404, enterprise_agent=404),
    ("POST", "web:resubmit"): row(
        302, owner=Cell(302, "resubmitted"), other_citizen=404, enterprise_agent=404
    ),
    ("GET", "web:material_download"): row(404, owner=200, clerk=200, reviewer=200),
    ("GET", "web:login"): row(200),
    ("GET", "web:register"): row(200),
    ("POST", "web:logout"): row(302),
    ("GET", "web:staff_login"): row(200),
    ("GET", "web:queue"): row(
        302,
        clerk=Cell(200, "page_shows_case"),
        reviewer=Cell(200, "page_shows_case"),
        other_department=Cell(200, "page_hides_case"),
        other_region=Cell(200, "page_hides_case"),
        catalog_admin=Cell(200, "page_hides_case"),
    ),
    ("GET", "web:case_detail"): row(
        302, clerk=200, reviewer=200, other_department=404, other_region=404, catalog_admin=404
    ),
    ("POST", "web:case_action"): row(
        302,
        clerk=Cell(302, "accepted"),
        reviewer=Cell(302, refused=True),  # 受理 needs the intake role: refused, back to the case
        other_department=404,
        other_region=404,
        catalog_admin=404,
    ),
    ("GET", "admin:index"): row(302, catalog_admin=200, superuser=200),
    ("GET", "web:my_data_use"): row(302, owner=200, other_citizen=200, enterprise_agent=200),
    ("POST", "web:consent_revoke"): row(302, other_citizen=404, enterprise_agent=404),
    ("GET", "web:security"): row(
        302, clerk=403, reviewer=403, other_department=403, other_region=403, catalog_admin=403
    ),
    ("POST", "web:alert_acknowledge"): row(
        302, clerk=403, reviewer=403, other_department=403, other_region=403, catalog_admin=403
    ),
    ("GET", "web:cross_region_apply"): row(302, owner=200, other_citizen=200, enterprise_agent=200),
    ("POST", "web:cross_region_apply"): row(
        302,
        owner=Cell(302, "one_more_received"),
        other_citizen=Cell(302, "one_more_received"),
        enterprise_agent=Cell(302, "one_more_received"),
    ),
    ("GET", "web:my_cross_region"): row(
        302,
        owner=Cell(200, "page_shows_received"),
        other_citizen=Cell(200, "page_hides_received"),
        enterprise_agent=Cell(200, "page_hides_received"),
    ),
    # 跨省补正 page: the applicant's own application only (its state decides the form; a POST
    # while no correction is awaited goes back to 我的跨省通办 with the reason).
    ("GET", "web:cross_region_resubmit"): row(
        302, owner=200, other_citizen=404, enterprise_agent=404
    ),
    ("POST", "web:cross_region_resubmit"): row(302, other_citizen=404, enterprise_agent=404),
    ("GET", "web:received_queue"): row(
        302,
        clerk=Cell(200, "page_shows_received"),
        reviewer=Cell(200, "page_shows_received"),
        other_department=Cell(200, "page_shows_received"),
        other_region=Cell(200, "page_hides_received"),
        catalog_admin=Cell(200, "page_shows_received"),
    ),
    ("POST", "web:received_check"): row(
        302,
        clerk=Cell(302, "handed_over"),
        other_department=Cell(302, "handed_over"),
        other_region=404,
    ),
    ("GET", "web:bundle_list"): row(200),
    ("GET", "web:bundle_guide"): row(200),
    ("GET", "web:bundle_apply"): row(302, owner=200, other_citizen=200, enterprise_agent=200),
    ("POST", "web:bundle_apply"): row(
        302,
        owner=Cell(302, "one_more_bundle_case"),
        other_citizen=Cell(302, "one_more_bundle_case"),
        enterprise_agent=Cell(302, "one_more_bundle_case"),
    ),
    ("GET", "web:my_bundle"): row(302, owner=200, other_citizen=404, enterprise_agent=404),
    ("GET", "web:bundle_resubmit"): row(302, owner=200, other_citizen=404, enterprise_agent=404),
    ("POST", "web:bundle_resubmit"): row(
        302, owner=Cell(302, "bundle_resubmitted"), other_citizen=404, enterprise_agent=404
    ),
    ("GET", "web:supervision"): row(
        302,
        clerk=Cell(200, "page_shows_case"),
        reviewer=Cell(200, "page_shows_case"),
        other_department=Cell(200, "page_hides_case"),
        other_region=Cell(200, "page_hides_case"),
        catalog_admin=Cell(200, "page_hides_case"),
    ),
    ("POST", "web:alert_escalate"): row(
        302, clerk=403, reviewer=403, other_department=403, other_region=403, catalog_admin=403
    ),
    ("GET", "web:assist_tasks"): row(
        302,
        clerk=Cell(200, "page_hides_case"),
        reviewer=Cell(200, "page_hides_case"),
        other_department=Cell(200, "page_shows_case"),
        other_region=Cell(200, "page_hides_case"),
        catalog_admin=Cell(200, "page_hides_case"),
    ),
    ("GET", "web:assist_task_detail"): row(
        302, clerk=404, reviewer=404, other_department=200, other_region=404, catalog_admin=404
    ),
    ("POST", "web:assist_task_act"): row(
        302,
        clerk=404,
        reviewer=404,
        other_department=Cell(302, "one_more_step"),  # picked up: a timeline step
        other_region=404,
        catalog_admin=404,
    ),
    ("GET", "web:case_collaboration"): row(
        302, clerk=200, reviewer=200, other_department=404, other_region=404, catalog_admin=404
    ),
    ("POST", "web:case_collaboration_act"): row(
        302,
        clerk=Cell(302, "one_more_step"),  # assist requested: a timeline step
        reviewer=Cell(302, "one_more_step"),
        other_department=404,
        other_region=404,
        catalog_admin=404,
    ),
    ("GET", "licenses:verify"): row(200),
    ("POST", "licenses:verify"): row(422),  # empty form: nothing to verify
    ("GET", "licenses:my_licenses"): row(
        302,
        owner=Cell(200, "page_shows_license"),
        other_citizen=Cell(200, "page_hides_license"),
        enterprise_agent=Cell(200, "page_hides_license"),
    ),
    ("GET", "licenses:license_detail"): row(
        302, owner=200, other_citizen=404, enterprise_agent=404
    ),
    ("GET", "licenses:license_download"): row(
        302, owner=200, other_citizen=404, enterprise_agent=404
    ),
    ("GET", "licenses:license_present"): row(
        302, owner=200, other_citizen=404, enterprise_agent=404
    ),
    ("POST", "licenses:license_present"): row(
        302, owner=200, other_citizen=404, enterprise_agent=404
    ),
}
# Not in the matrix: Django admin model pages (their own permission checks, tested in
# tests/test_web.py::TestAdminScope) and the bench-only baseline (not routed in production).
EXCLUDED_NAMES = {"bench_baseline"}


# ---------------------------------------------------------------- the world


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    f.division_tree()
    calendar_seed_year(year=2026)
    police = f.department("440100", "广州市公安局")
    civil = f.department("440100", "广州市民政局")
    hangzhou = f.department("330100", "杭州市公安局")
    province = f.department("440000", "广东省政务服务数据管理局")
    item = f.item(police, objects=["citizen", "enterprise"])
    owner = f.citizen("李明")
    agent = f.citizen("陈静")
    enterprise_register(
        uscc="91110000600037341L",
        name="示例有限公司",
        legal_representative="陈静",
        agent=agent.citizen,
    )
    result = application_submit(
        actor=owner,
        item_code=item.implementation_code,
        form_data=dict(f.VALID_FORM),
        materials=[UploadedMaterial("M01", "a.pdf", f.PDF)],
    )
    all_roles = [StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION]
    actors = {
        "owner": owner,
        "other_citizen": f.citizen("王芳"),
        "enterprise_agent": agent,
        "clerk": f.staff(police, [StaffRole.INTAKE]),
        "reviewer": f.staff(police, [StaffRole.REVIEW, StaffRole.DECISION]),
        "other_department": f.staff(civil, all_roles),
        "other_region": f.staff(hangzhou, all_roles),
        "catalog_admin": f.staff(province, [StaffRole.ADMIN]),
    }
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    root = get_user_model().objects.create_superuser("root", password=f.PASSWORD)
    TOTPDevice.objects.create(user=root, name="d", confirmed=True, key=f.TOTP_KEY)
    return {
        "item": item,
        "case": result.case,
        "application": result.application,
        "actors": actors,
        "root": root,
        "material": result.application.materials.get(),
    }


def api_client(world: dict[str, Any], role: str) -> tuple[Client, dict[str, str]]:
    if role == "anonymous":
        return Client(), {}
    user = world["root"] if role == "superuser" else world["actors"][role].user
    raw, _ = api_token_issue(user=user)
    return Client(), {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def web_client(world: dict[str, Any], role: str) -> Client:
    # One signed-in client per role and world: a TOTP code is accepted once per time step.
    cached = world.setdefault("_clients", {})
    if role in cached:
        return cached[role]  # type: ignore[no-any-return]
    client = cached[role] = Client()
    if role == "anonymous":
        return client
    if role == "superuser" or world["actors"][role].staff is not None:
        username = "root" if role == "superuser" else world["actors"][role].user.username
        response = client.post(
            "/workbench/login/", {"username": username, "password": f.PASSWORD, "otp": f.otp_now()}
        )
    else:
        response = client.post(
            "/login/",
            {
                "method": "password",
                "phone": world["actors"][role].citizen.phone,
                "password": f.PASSWORD,
            },
        )
    assert response.status_code == 302, (role, response.status_code)
    return client


def snapshot() -> tuple[Any, ...]:
    return (
        Application.objects.count(),
        Case.objects.count(),
        CaseTransition.objects.count(),
        tuple(Case.objects.order_by("pk").values_list("status", "version")),
    )


# ---------------------------------------------------------------- requests


def api_request(world: dict[str, Any], method: str, path: str, role: str) -> Any:
    client, headers = api_client(world, role)
    case, application, item = world["case"], world["application"], world["item"]
    url = (
        path.replace("/regions/{code}", "/regions/440000")
        .replace("/bundles/{code}", "/bundles/matrix")
        .replace("{name}", "matrix")
        .replace("{license_id}", str(world.get("license_id", "")))
        .replace("{grant_id}", str(world.get("grant_id", "")))
        .replace("{consent_id}", str(world.get("consent_id", "")))
        .replace("{alert_id}", str(world.get("alert_id", 1)))
        .replace("{received_id}", str(world.get("received_id", "")))
        .replace("/bundles/{code}", "/bundles/matrix")
        .replace("{bundle_case_id}", str(world.get("bundle_case_id", "")))
        .replace("{task_id}", str(world.get("task_id", "")))
        .replace("{index}", "1")
        .replace("{code}", item.implementation_code)
        .replace("{case_id}", str(case.pk))
        .replace("{application_id}", str(application.pk))
    )
    body: dict[str, Any] = {}
    if path == "/api/v1/auth/token":
        body = {"username": "13800000000", "password": "wrong"}
    elif path == "/api/v1/applications":
        body = {
            "item_code": item.implementation_code,
            "form": dict(f.VALID_FORM),
            "materials": [
                {"material_code": "M01", "filename": "a.pdf", "content_base64": f.b64(f.PDF)}
            ],
        }
        if role == "enterprise_agent":
            body["enterprise_uscc"] = "91110000600037341L"
    elif path.endswith("/resubmission") and "bundle-cases" not in path:
        body = {"form": dict(f.VALID_FORM), "materials": []}
    elif path.endswith("/assist-tasks") and method == "POST":
        body = {"department_code": world["province_code"], "request": "请核实", "due_days": 3}
    elif path.endswith("/transfer"):
        body = {"department_code": world["other_department_code"], "note": "职责调整"}
    elif path.endswith("/answer"):
        body = {"outcome": "done", "answer": "已核实"}
    elif path.endswith("/escalation"):
        body = {"note": "请督办"}
    elif path == "/api/v1/bundle-cases":
        body = {
            "bundle_code": "matrix",
            "form": {"child.name": "张小宝"},
            "materials": [
                {"material_code": "B01", "filename": "a.pdf", "content_base64": f.b64(f.PDF)}
            ],
        }
    elif path == "/api/v1/bundle-cases/{bundle_case_id}/resubmission":
        body = {"form": {"child.name": "张小宝"}, "materials": []}
    elif path == "/api/v1/cross-region/applications":
        body = {
            "item_code": world["cross_item"].implementation_code,
            "handling_region": "330000",
            "receiving_region": "440000",
            "form": dict(f.VALID_FORM),
            "materials": [
                {"material_code": "M01", "filename": "a.pdf", "content_base64": f.b64(f.PDF)}
            ],
        }
    elif path == "/api/v1/cross-region/joint-applications":
        body = {
            "parts": [
                {"item_code": world["cross_item"].implementation_code, "handling_region": "330000"},
                {
                    "item_code": world["cross_item_2"].implementation_code,
                    "handling_region": "330000",
                },
            ],
            "receiving_region": "440000",
            "form": dict(f.VALID_FORM),
            "materials": [
                {
                    "part": part,
                    "material_code": "M01",
                    "filename": "a.pdf",
                    "content_base64": f.b64(f.PDF),
                }
                for part in (1, 2)
            ],
        }
    elif path.endswith("/check"):
        body = {"accept": True, "comment": ""}
    elif path == "/api/v1/exchange/grants":
        body = {"purpose": item.implementation_code, "elements": ["person.name"], "reason": "核验"}
    elif path.endswith("/decision"):
        body = {"approve": True, "note": "同意"}
    elif path == "/api/v1/exchange/consents":
        body = {"purpose": item.implementation_code}
    elif path == "/api/v1/exchange/prefill":
        body = {"item_code": item.implementation_code}
    elif path.startswith("/api/v1/licenses/") and path.endswith(
        ("/suspension", "/reinstatement", "/revocation")
    ):
        body = {"reason": "核查"}
    elif path.endswith("/transitions"):
        # Mass assignment attempt rides along: protected fields must be ignored.
        body = {"action": "accept", "comment": "", "status": "completed", "department": "x"}
    if path.endswith("/consistency"):
        url += "?old=1&new=3"
    if method == "GET":
        return client.get(url, **headers)
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def web_request(world: dict[str, Any], method: str, name: str, role: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    client = web_client(world, role)
    case, item = world["case"], world["item"]
    kwargs: dict[str, Any] = {}
    if name in {"web:item_guide", "web:apply"}:
        kwargs = {"code": item.implementation_code}
    elif name in {"web:my_case", "web:resubmit", "web:case_detail", "web:case_action"}:
        kwargs = {"case_id": str(case.pk)}
    elif name == "web:material_download":
        kwargs = {"material_id": world["material"].pk}
    elif name.startswith("licenses:license_"):
        kwargs = {"license_id": world["license_id"]}
    elif name == "web:cross_region_apply":
        kwargs = {"code": world["cross_item"].implementation_code}
    elif name in {"web:assist_task_detail", "web:assist_task_act"}:
        kwargs = {"task_id": world["task_id"]}
    elif name == "web:alert_escalate":
        kwargs = {"alert_id": world["alert_id"]}
    elif name in {"web:case_collaboration", "web:case_collaboration_act"}:
        kwargs = {"case_id": str(case.pk)}
    elif name in {"web:bundle_guide", "web:bundle_apply"}:
        kwargs = {"code": "matrix"}
    elif name in {"web:my_bundle", "web:bundle_resubmit"}:
        kwargs = {"bundle_case_id": world["bundle_case_id"]}
    elif name in {"web:received_check", "web:cross_region_resubmit"}:
        kwargs = {"received_id": world["received_id"]}
    elif name == "web:consent_revoke":
        kwargs = {"consent_id": world["consent_id"]}
    elif name == "web:alert_acknowledge":
        kwargs = {"alert_id": 1}
    url = reverse(name, kwargs=kwargs)
    if method == "GET":
        return client.get(url)
    data: dict[str, Any] = {}
    if name == "web:apply":
        data = {
            **f.VALID_FORM,
            "submission_token": f"t-{role}",
            "material_M01": SimpleUploadedFile("a.pdf", f.PDF),
        }
        if role == "enterprise_agent":
            data["enterprise"] = "91110000600037341L"
    elif name == "web:resubmit":
        data = dict(f.VALID_FORM)
    elif name == "web:assist_task_act":
        data = {"action": "pickup"}
    elif name == "web:case_collaboration_act":
        data = {
            "action": "assist",
            "department_code": world["province_code"],
            "request": "请核实",
            "due_days": "3",
        }
    elif name == "web:alert_escalate":
        data = {"note": "请督办"}
    elif name == "web:bundle_apply":
        data = {
            "child.name": "张小宝",
            "submission_token": f"b-{role}",
            "material_B01": SimpleUploadedFile("a.pdf", f.PDF),
        }
    elif name == "web:bundle_resubmit":
        data = {"child.name": "张小宝"}
    elif name == "web:cross_region_apply":
        data = {
            **f.VALID_FORM,
            "receiving_region": "440000",
            "submission_token": f"x-{role}",
            "material_M01": SimpleUploadedFile("a.pdf", f.PDF),
        }
    elif name == "web:received_check":
        data = {"decision": "accept"}
    elif name == "web:case_action":
        data = {"action": "accept", "version": "0"}
    elif name == "set_language":
        data = {"language": "en", "next": "/"}
    return client.post(url, data)


# ---------------------------------------------------------------- extra checks


def _body(response: Any) -> str:
    return response.content.decode()


CHECKS: dict[str, Callable[[dict[str, Any], Any, tuple[Any, ...]], None]] = {
    "sees_own_case": lambda w, r, before: _assert(w["case"].case_number in _body(r)),
    "sees_no_case": lambda w, r, before: _assert(w["case"].case_number not in _body(r)),
    "page_shows_case": lambda w, r, before: _assert(w["case"].case_number in _body(r)),
    "page_hides_case": lambda w, r, before: _assert(w["case"].case_number not in _body(r)),
    "accepted": lambda w, r, before: _assert(
        Case.objects.get(pk=w["case"].pk).status == CaseStatus.ACCEPTED
    ),
    "resubmitted": lambda w, r, before: _assert(
        Case.objects.get(pk=w["case"].pk).status == CaseStatus.RESUBMITTED
    ),
    "one_more_case": lambda w, r, before: _assert(Case.objects.count() == before[1] + 1),
    "one_more_step": lambda w, r, before: _assert(CaseTransition.objects.count() == before[2] + 1),
    "sees_own_task": lambda w, r, before: _assert(f'"id": {w["task_id"]}' in _body(r)),
    "sees_no_task": lambda w, r, before: _assert(f'"id": {w["task_id"]}' not in _body(r)),
    "sees_own_bundle_case": lambda w, r, before: _assert(w["bundle_case_id"] in _body(r)),
    "sees_no_bundle_case": lambda w, r, before: _assert(w["bundle_case_id"] not in _body(r)),
    "one_more_bundle_case": lambda w, r, before: _assert(BundleCase.objects.count() == 2),
    "bundle_resubmitted": lambda w, r, before: _assert(
        Case.objects.filter(status=CaseStatus.RESUBMITTED).exists()
    ),
    "sees_own_received": lambda w, r, before: _assert(w["received_id"] in _body(r)),
    "sees_no_received": lambda w, r, before: _assert(w["received_id"] not in _body(r)),
    "page_shows_received": lambda w, r, before: _assert(w["received_id"] in _body(r)),
    "page_hides_received": lambda w, r, before: _assert(w["received_id"] not in _body(r)),
    "handed_over": lambda w, r, before: _assert(
        ReceivedApplication.objects.get(pk=w["received_id"]).stage == ReceivedStage.HANDED_OVER
    ),
    "one_more_received": lambda w, r, before: _assert(ReceivedApplication.objects.count() == 2),
    "sees_own_license": lambda w, r, before: _assert(w["license_id"] in _body(r)),
    "sees_no_license": lambda w, r, before: _assert(w["license_id"] not in _body(r)),
    "page_shows_license": lambda w, r, before: _assert(w["license_id"] in _body(r)),
    "page_hides_license": lambda w, r, before: _assert(w["license_id"] not in _body(r)),
    "license_suspended": lambda w, r, before: _assert(
        _license(w).status == LicenseStatus.SUSPENDED
    ),
    "license_revoked": lambda w, r, before: _assert(_license(w).status == LicenseStatus.REVOKED),
}


def _license(world: dict[str, Any]) -> Any:
    return License.objects.get(pk=world["license_id"])


def _assert(condition: bool) -> None:
    assert condition


def _check(
    world: dict[str, Any],
    cell: Cell,
    response: Any,
    before: tuple[Any, ...],
    method: str,
    where: str,
) -> None:
    assert response.status_code == cell.status, (
        f"{where}: expected {cell.status}, got {response.status_code}"
    )
    if cell.check:
        CHECKS[cell.check](world, response, before)
    elif method == "POST" and response.status_code >= 300:
        # A write that was not allowed (or a redirect to sign-in) changed nothing. State set up
        # by the request helper (the clerk's correction request) happens before `before`.
        assert snapshot() == before, f"{where}: a refused write changed data"


API_CELLS = [(method, path, role) for (method, path), cells in API.items() for role in cells]
WEB_CELLS = [(method, name, role) for (method, name), cells in WEB.items() for role in cells]


def _share_data(world: dict[str, Any]) -> None:
    """Registries owned by the item's department, the item's material M01 derivable from
    person elements, a pending grant requested by the reviewer and the owner's consent."""
    item = world["item"]
    registries_seed(
        owners={
            name: item.department
            for name in ("population", "legal_entity", "social_security", "license_library")
        }
    )
    Material.objects.filter(item=item, code="M01").update(
        elements=["person.id_number", "person.name"]
    )
    item_publish(item=item, actor="matrix")
    world["grant_id"] = grant_request(
        actor=world["actors"]["reviewer"],
        purpose=item.implementation_code,
        elements=["person.name"],
        reason="核验申请人身份",
    ).pk
    world["consent_id"] = consent_give(
        actor=world["actors"]["owner"], purpose=item.implementation_code
    )[0].pk


def _collaborate(world: dict[str, Any]) -> None:
    """An open assist task from the clerk (police) to 民政局 on the owner's case, and the
    case's stuck alert a week later."""
    civil = Department.objects.get(name="广州市民政局")
    world["province_code"] = Department.objects.get(name="广东省政务服务数据管理局").code
    world["other_department_code"] = civil.code
    world["task_id"] = assist_task_create(
        actor=world["actors"]["clerk"],
        case_id=world["case"].pk,
        department_code=civil.code,
        request="请核实婚姻状况",
        due_days=3,
    ).pk
    stuck_detect(now=clock.now() + timedelta(days=7))
    world["alert_id"] = StuckAlert.objects.get(case=world["case"], step="submitted").pk


BUNDLE_SCHEMA = {
    "type": "object",
    "required": ["child_name"],
    "properties": {
        "child_name": {
            "type": "string",
            "title": "姓名",
            "maxLength": 50,
            "x-element": "child.name",
        }
    },
}


def _bundle(world: dict[str, Any], *, correction: bool) -> None:
    """A published two-department bundle and the owner's bundle case; with `correction`, the
    police child is sent back for correction."""
    police = world["item"].department
    civil = Department.objects.get(name="广州市民政局")
    first = f.item(police, name="甲事项", form_schema=BUNDLE_SCHEMA)
    second = f.item(civil, name="乙事项", form_schema=BUNDLE_SCHEMA)
    bundle_save(
        code="matrix",
        name="矩阵一件事",
        division=Division.objects.get(code="440100"),
        lead_department=police,
        items=[first, second],
        dependencies=[],
        actor="matrix",
    )
    bundle_case = bundle_submit(
        actor=world["actors"]["owner"],
        bundle_code="matrix",
        form_data={"child.name": "张小宝"},
        materials=[UploadedMaterial("B01", "a.pdf", f.PDF)],
    ).bundle_case
    world["bundle_case_id"] = str(bundle_case.pk)
    if correction:
        child = Case.objects.get(bundle_child__bundle_case=bundle_case, item=first)
        case_transition(
            actor=world["actors"]["clerk"],
            case_id=child.pk,
            action="request_correction",
            comment="补充材料",
        )


def _receive_cross_region(world: dict[str, Any]) -> None:
    """Guangdong and Zhejiang as region tenants, a Zhejiang cross-province item and the
    owner's application for it received in Guangdong (awaiting the receiving check)."""
    for code, name in (("440000", "广东省"), ("330000", "浙江省")):
        peer_save(code=code, name=name, base_url="", public_key=region_public_key(code))
    hangzhou = Department.objects.get(name="杭州市公安局")
    world["cross_item"] = f.item(hangzhou, name="户口迁移（跨省通办）", cross_province=True)
    world["cross_item_2"] = f.item(hangzhou, name="居住证明（跨省通办）", cross_province=True)
    world["received_id"] = str(
        received_application_submit(
            actor=world["actors"]["owner"],
            item_code=world["cross_item"].implementation_code,
            handling_region="330000",
            receiving_region="440000",
            form_data=dict(f.VALID_FORM),
            materials=[UploadedMaterial("M01", "a.pdf", f.PDF)],
        ).pk
    )


def _issue_license(world: dict[str, Any]) -> Any:
    """The owner's case approved and its licence (户籍证明) issued."""
    licenses_seed()
    LicenseIssuance.objects.create(
        implementation_code=world["item"].implementation_code,
        license_type=LicenseType.objects.get(name="户口簿（户籍证明）"),
        field_mapping=HOUSEHOLD_MAPPING,
    )
    for action, who in (("accept", "clerk"), ("start_review", "reviewer"), ("approve", "reviewer")):
        case_transition(actor=world["actors"][who], case_id=world["case"].pk, action=action)
    return license_issue(case_id=world["case"].pk)


def prepare(world: dict[str, Any], endpoint: str) -> None:
    """Put the world where the endpoint can act on it: resubmission needs a correction request
    first; the ledger endpoints need a log with entries and a checkpoint."""
    if "/ledger/" in endpoint:
        for number in range(3):
            log_append(log_name="matrix", entry=f"entry {number}".encode())
        checkpoint_publish(log_name="matrix")
    if "licenses" in endpoint:
        world["license_id"] = str(_issue_license(world).pk)
    if "bundle" in endpoint:
        _bundle(world, correction="resubmi" in endpoint)
    if any(word in endpoint for word in ("collaboration", "supervision", "assist", "alert_esc")):
        _collaborate(world)
    if "cross-region" in endpoint or "cross_region" in endpoint or "received" in endpoint:
        _receive_cross_region(world)
    if "exchange" in endpoint or endpoint in {"web:consent_revoke", "web:my_data_use"}:
        _share_data(world)
    if "resubmi" in endpoint:
        case_transition(
            actor=world["actors"]["clerk"],
            case_id=world["case"].pk,
            action="request_correction",
            comment="补充材料",
        )


# A refused request: the signed-in user may not do this (403), may not see it (404), or the
# object is not in a state that allows it (409). Input errors (400, 422) are answered, not
# refused; an anonymous 401 is the sign-in's business (ADR 0020).
REFUSED = {403, 404, 409}


def denials() -> int:
    return AuditRecord.objects.filter(outcome=Outcome.DENIED).count()


def _check_denials(cell: Cell, role: str, response: Any, denied_before: int, where: str) -> None:
    """One refusal policy: every refused request of a signed-in user leaves exactly one denial
    record, on the API and on the pages alike; anything else leaves none."""
    refused = cell.refused or response.status_code in REFUSED
    expected = 1 if role != "anonymous" and refused else 0
    assert denials() - denied_before == expected, (
        f"{where}: {denials() - denied_before} denial records for {response.status_code}, "
        f"expected {expected}"
    )


@pytest.mark.parametrize(("method", "path", "role"), API_CELLS)
def test_api_matrix(world: dict[str, Any], method: str, path: str, role: str) -> None:
    prepare(world, path)
    before, denied_before = snapshot(), denials()
    response = api_request(world, method, path, role)
    where = f"{method} {path} as {role}"
    _check(world, API[(method, path)][role], response, before, method, where)
    if response.status_code >= 400:
        assert set(response.json()) == {"code", "message", "fields"}
    _check_denials(API[(method, path)][role], role, response, denied_before, where)


@pytest.mark.parametrize(("method", "name", "role"), WEB_CELLS)
def test_web_matrix(world: dict[str, Any], method: str, name: str, role: str) -> None:
    prepare(world, name)
    before, denied_before = snapshot(), denials()
    response = web_request(world, method, name, role)
    where = f"{method} {name} as {role}"
    _check(world, WEB[(method, name)][role], response, before, method, where)
    _check_denials(WEB[(method, name)][role], role, response, denied_before, where)


# ---------------------------------------------------------------- completeness


def _named_routes() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                name = pattern.name or pattern.lookup_str.rsplit(".", 1)[-1]
                names.add(f"{namespace}:{name}" if namespace else name)

    walk(get_resolver().url_patterns, None)
    return names


def test_every_endpoint_has_an_entry(client: Client) -> None:
    document = client.get("/api/openapi.json").json()
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert operations <= set(API), f"API operations without a matrix entry: {operations - set(API)}"
    routes = {
        name
        for name in _named_routes()
        if not name.startswith("admin:") and not name.startswith("api:")
    }
    routes -= {"baseline_submit"} | EXCLUDED_NAMES
    declared = {name for _, name in WEB}
    assert routes <= declared, f"pages without a matrix entry: {routes - declared}"
    assert len(API_CELLS) + len(WEB_CELLS) >= 300
