"""Approvals under load: a world whose approvals have consequences in other aggregates, staff
who approve through the API, and the checks that each consequence happened exactly once.

Used by ``crash_approvals.py`` (gunicorn workers and master SIGKILLed, tasks eager in the
web process) and ``topology.py`` (two gunicorns, a broker, a Celery worker and beat).

The world (seeded with the ORM, like ``common.seed_world``):

- a police department (广州) with a *licensed item*: approving a case issues a 户口簿（户籍证明）
  (``LicenseIssuance``); citizens submit these through the API during the load;
- a 一件事 bundle (出生医学证明 by the health commission, then 出生户口登记 by the police,
  which needs the certificate's number): each bundle case has an *upstream* child to approve
  (issuing a 出生医学证明) and a *downstream* child waiting for it, to be released exactly once;
- 跨省通办 cases: received in 广东 (440000) by a citizen, checked by the receiving desk and
  handed over to 浙江 (330000, another region tenant of this deployment), where the handling
  case waits to be approved (issuing a 户口簿); each of its steps must reach the received
  application's timeline once, in order.

Every case is brought to 已提交 in setup (or by the citizens' submissions); the staff of its
department accept, start the review and approve it through ``POST
/api/v1/cases/{id}/transitions`` with API tokens they obtained at ``POST /api/v1/auth/token``
with password and TOTP, as staff do.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from harness import loadgen

PDF = loadgen.PDF_HEAD + b"%%EOF\n"
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["reason", "move_date"],
    "properties": {
        "reason": {"type": "string", "title": "申请事由", "maxLength": 200},
        "move_date": {"type": "string", "title": "日期", "format": "date"},
        "household_size": {"type": "integer", "title": "人数", "minimum": 1, "maximum": 20},
    },
}
FORM = {"reason": "工作调动", "move_date": "2026-12-01", "household_size": 2}
# What a case's status is once an action has been taken (or any later step).
REACHED = {
    "accept": {"accepted", "under_review", "approved", "denied", "completed"},
    "start_review": {"under_review", "approved", "denied", "completed"},
    "approve": {"approved", "completed"},
}
STEPS = ("accept", "start_review", "approve")
# The received application's timeline: its own two entries, then the handling case's steps.
CROSS_REGION_TIMELINE = ["received", "handed_over", "submit", *STEPS]


# --------------------------------------------------------------------------- the world


@dataclass
class StaffLogin:
    username: str
    password: str
    totp_key: str  # hex
    token: str = ""


@dataclass
class Desk:
    """A department's two staff members: a clerk (受理) and a reviewer (审查, 决定)."""

    clerk: StaffLogin
    reviewer: StaffLogin


@dataclass
class CaseJob:
    """One case to bring from 已提交 to 准予许可, and what happened on the way."""

    kind: str  # licensed | bundle | cross_region
    desk: str
    case_id: str
    case_number: str
    done: list[str] = field(default_factory=list)
    attempts: int = 0
    replayed: int = 0  # steps acknowledged by a 409 + lookup: stored, the answer lost to a kill
    rejected: str = ""
    gave_up: bool = False
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def approved(self) -> bool:
        return self.done == list(STEPS)


@dataclass
class ApprovalWorld:
    licensed_item: str
    citizen_tokens: list[str]
    citizen_ids: list[int]
    desks: dict[str, Desk]
    jobs: list[CaseJob]  # the cases prepared in setup (bundle upstreams, cross-region cases)
    downstream_of: dict[str, str]  # bundle upstream case id → downstream case id
    received_of: dict[str, str]  # handling case id → received application id


def _department(division: str, name: str, n: int) -> Any:
    from tongban.core.ids import uscc_checksum
    from tongban.identity.models import Department

    first17 = f"11{division}MB{n:07d}"
    return Department.objects.create(
        code=first17 + uscc_checksum(first17), name=name, division_id=division
    )


def _item(department: Any, n: int, name: str, schema: dict[str, Any], **extra: Any) -> Any:
    from tongban.catalog.models import Material, ServiceItem
    from tongban.catalog.services import item_publish

    catalog_code = f"{department.division_id}0{n:05d}"
    item = ServiceItem.objects.create(
        implementation_code=f"{department.code}3{catalog_code}",
        catalog_code=catalog_code,
        name=name,
        item_type="07",
        department=department,
        division_id=department.division_id,
        conditions="符合条件",
        legal_limit_days=20,
        committed_limit_days=5,
        service_objects=["citizen"],
        themes=["审批压测"],
        form_schema=schema,
        **extra,
    )
    Material.objects.create(item=item, code="M01", name="居民身份证", is_mandatory=True)
    item_publish(item=item, actor="harness")
    item.refresh_from_db()
    return item


def _issues(item: Any, type_name: str, mapping: dict[str, str]) -> None:
    from tongban.licenses.models import LicenseIssuance, LicenseType

    LicenseIssuance.objects.create(
        implementation_code=item.implementation_code,
        license_type=LicenseType.objects.get(name=type_name),
        field_mapping=mapping,
    )


def _staff(department: Any, roles: list[str], label: str) -> tuple[Any, StaffLogin]:
    from tongban.core.models import Division
    from tongban.identity.selectors import actor_for_user
    from tongban.identity.services import staff_create

    login = StaffLogin(
        username=f"harness-{label}",
        password=secrets.token_urlsafe(18),
        totp_key=secrets.token_hex(20),
    )
    member = staff_create(
        username=login.username,
        password=login.password,
        real_name=f"压测{label}",
        department=department,
        scope=Division.objects.get(code=department.division_id),
        roles=roles,
        totp_key=login.totp_key,
    )
    return actor_for_user(member.user), login


def _citizen(n: int, prefix: str = "138") -> Any:
    from tongban.core.ids import synthetic_id_number
    from tongban.identity.selectors import actor_for_user
    from tongban.identity.services import citizen_register

    citizen = citizen_register(
        real_name=f"审批{n}",
        id_number=synthetic_id_number("440106", date(1960, 1, 1) + timedelta(days=n), 1 + n % 900),
        phone=f"{prefix}{n:08d}",
    )
    return actor_for_user(citizen.user)


def seed(*, citizens: int, bundles: int, cross_region: int) -> ApprovalWorld:
    """Build the world; bundle and cross-region cases are prepared by calling the services
    (their hand-off runs in this process: tasks are eager here)."""
    from tongban.cases.bundles.services import bundle_submit
    from tongban.cases.crossregion import services as crossregion
    from tongban.cases.models import BundleCaseChild, Case, CaseStatus
    from tongban.cases.submission.services import UploadedMaterial
    from tongban.catalog.bundles import DependencySpec, bundle_save
    from tongban.core import clock
    from tongban.core.models import Division
    from tongban.core.services import calendar_seed_year
    from tongban.identity.models import StaffRole
    from tongban.identity.services import api_token_issue
    from tongban.interchange import services as interchange
    from tongban.licenses.seed import licenses_seed

    for code, name, level, parent in (
        ("000000", "中华人民共和国", "nation", None),
        ("440000", "广东省", "province", "000000"),
        ("440100", "广州市", "city", "440000"),
        ("330000", "浙江省", "province", "000000"),
        ("330100", "杭州市", "city", "330000"),
    ):
        Division.objects.get_or_create(
            code=code, defaults={"name": name, "level": level, "parent_id": parent}
        )
    this_year = clock.today().year
    for year in (this_year - 1, this_year, this_year + 1):
        calendar_seed_year(year=year)
    licenses_seed()
    roles = [StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION]
    desks: dict[str, Desk] = {}
    actors: dict[str, tuple[Any, Any]] = {}

    def desk(key: str, department: Any) -> None:
        clerk, clerk_login = _staff(department, [StaffRole.INTAKE], f"{key}-clerk")
        reviewer, reviewer_login = _staff(department, roles, f"{key}-reviewer")
        desks[key] = Desk(clerk_login, reviewer_login)
        actors[key] = (clerk, reviewer)

    # The licensed item: citizens apply through the API during the load.
    police = _department("440100", "广州市公安局", 1)
    licensed = _item(police, 1, "户口迁入登记（审批压测）", FORM_SCHEMA)
    household_card = {
        "name": "@applicant_name",
        "move_reason": "reason",
        "to_address": "=广州市天河区（合成数据）",
        "moving_date": "move_date",
    }
    _issues(licensed, "户口簿（户籍证明）", household_card)
    desk("police", police)
    tokens, ids = [], []
    for n in range(citizens):
        citizen = _citizen(n)
        tokens.append(api_token_issue(user=citizen.user)[0])
        ids.append(citizen.user.pk)

    # 一件事: the household registration waits for the birth certificate's number.
    health = _department("440100", "广州市卫生健康委员会", 2)
    desk("health", health)
    child = {
        "child_name": {"type": "string", "title": "新生儿姓名", "x-element": "child.name"},
        "birth_date": {
            "type": "string",
            "title": "出生日期",
            "format": "date",
            "x-element": "child.birth_date",
        },
    }
    certificate = _item(
        health,
        2,
        "出生医学证明签发（审批压测）",
        {"type": "object", "required": ["child_name"], "properties": child},
    )
    _issues(
        certificate,
        "出生医学证明",
        {
            "newborn_name": "child_name",
            "birth_date": "birth_date",
            "mother_name": "@applicant_name",
            "institution": "=广州市妇女儿童医疗中心（合成数据）",
        },
    )
    household = _item(
        police,
        3,
        "出生户口登记（审批压测）",
        {
            "type": "object",
            "required": ["child_name", "certificate_number"],
            "properties": {
                **child,
                "certificate_number": {
                    "type": "string",
                    "title": "出生医学证明编号",
                    "x-element": "child.birth_certificate_number",
                },
            },
        },
    )
    bundle_save(
        code="harness-newborn",
        name="新生儿出生一件事（审批压测）",
        division=Division.objects.get(code="440100"),
        lead_department=health,
        items=[certificate, household],
        dependencies=[DependencySpec(0, 1, ("child.birth_certificate_number",))],
        actor="harness",
    )
    jobs: list[CaseJob] = []
    downstream_of: dict[str, str] = {}
    for n in range(bundles):
        result = bundle_submit(
            actor=_citizen(1000 + n),
            bundle_code="harness-newborn",
            form_data={"child.name": f"新生儿{n}", "child.birth_date": "2026-11-20"},
            materials=[UploadedMaterial("B01", "id.pdf", PDF)],
        )
        children = {
            row.case.item_id: row.case
            for row in BundleCaseChild.objects.filter(
                bundle_case=result.bundle_case
            ).select_related("case")
        }
        upstream, downstream = children[certificate.pk], children[household.pk]
        assert upstream.status == CaseStatus.SUBMITTED, upstream.status
        assert downstream.status == CaseStatus.WAITING, downstream.status
        jobs.append(CaseJob("bundle", "health", str(upstream.pk), upstream.case_number))
        downstream_of[str(upstream.pk)] = str(downstream.pk)

    # 跨省通办: received in Guangdong, handled in Zhejiang (both tenants of this deployment).
    for code, name in (("440000", "广东省"), ("330000", "浙江省")):
        interchange.peer_save(
            code=code, name=name, base_url="", public_key=interchange.region_public_key(code)
        )
    hangzhou = _department("330100", "杭州市公安局", 3)
    desk("hangzhou", hangzhou)
    remote = _item(hangzhou, 4, "户口迁移（跨省通办，审批压测）", FORM_SCHEMA, cross_province=True)
    _issues(remote, "户口簿（户籍证明）", household_card)
    receiving_desk = _department("440000", "广东省政务服务中心", 4)
    desk_clerk, _ = _staff(receiving_desk, [StaffRole.INTAKE], "receiving-clerk")
    received_of: dict[str, str] = {}
    for n in range(cross_region):
        received = crossregion.received_application_submit(
            actor=_citizen(2000 + n),
            item_code=remote.implementation_code,
            handling_region="330000",
            receiving_region="440000",
            form_data=dict(FORM, reason=f"跨省迁移 {n}"),
            materials=[UploadedMaterial("M01", "id.pdf", PDF)],
        )
        crossregion.received_application_check(
            actor=desk_clerk, received_id=received.pk, accept=True
        )
        handling = Case.objects.get(cross_region_origin__received_id=received.pk)
        assert handling.status == CaseStatus.SUBMITTED, handling.status
        jobs.append(CaseJob("cross_region", "hangzhou", str(handling.pk), handling.case_number))
        received_of[str(handling.pk)] = str(received.pk)
    random.Random(7).shuffle(jobs)  # noqa: S311 — interleave the kinds
    return ApprovalWorld(
        licensed_item=licensed.implementation_code,
        citizen_tokens=tokens,
        citizen_ids=ids,
        desks=desks,
        jobs=jobs,
        downstream_of=downstream_of,
        received_of=received_of,
    )


# --------------------------------------------------------------------------- staff at work


def totp_now(key_hex: str) -> str:
    from django_otp.oath import totp

    return f"{totp(bytes.fromhex(key_hex)):06d}"


async def staff_login(client: loadgen.HttpClient, login: StaffLogin) -> None:
    """POST /api/v1/auth/token with password and TOTP, as a staff member does."""
    for attempt in range(20):
        body = json.dumps(
            {
                "username": login.username,
                "password": login.password,
                "otp": totp_now(login.totp_key),
            }
        ).encode()
        try:
            response = await client.request(
                "POST",
                "/api/v1/auth/token",
                headers={"Content-Type": "application/json"},
                body=body,
                timeout=10.0,
            )
        except loadgen.TransportError:
            await asyncio.sleep(0.5)
            continue
        if response.status == 200:
            login.token = response.json()["access_token"]
            return
        if response.status == 401 and attempt < 19:
            # A code is accepted once: a retry inside the same 30-s step needs the next code.
            await asyncio.sleep(1.0)
            continue
        if response.status in (429, 503):
            await asyncio.sleep(1.0)
            continue
        raise RuntimeError(f"staff login {login.username}: {response.status} {response.body!r}")
    raise RuntimeError(f"staff login {login.username}: no token after 20 attempts")


Pick = Callable[[], loadgen.HttpClient]  # which server the next request goes to


async def _status_of(pick: Pick, token: str, job: CaseJob, give_up_at: float) -> str | None:
    """The case's status as the staff queue shows it (GET /api/v1/cases?q=number)."""
    while time.monotonic() < give_up_at:
        try:
            response = await pick().request(
                "GET",
                f"/api/v1/cases?q={job.case_number}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10.0,
            )
        except loadgen.TransportError as error:
            job.errors[f"lookup_{error.kind}"] += 1
        else:
            if response.status == 200:
                rows = response.json()
                rows = rows.get("items", rows) if isinstance(rows, dict) else rows
                for row in rows:
                    if str(row["id"]) == job.case_id:
                        return str(row["status"])
                return None
            job.errors[f"lookup_http_{response.status}"] += 1
        await asyncio.sleep(0.2)
    return None


async def transition_until_acknowledged(
    pick: Pick,
    token: str,
    job: CaseJob,
    action: str,
    *,
    deadline: float,
    request_timeout: float,
    rng: random.Random,
) -> bool:
    """POST one staff action until it is acknowledged: 200, or — after an attempt whose
    answer was lost — a 409 for a case that the lookup shows has taken the step."""
    body = json.dumps({"action": action}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    give_up_at = time.monotonic() + deadline
    backoff = 0.05
    uncertain = False  # an earlier attempt may have committed (its answer was lost)
    while time.monotonic() < give_up_at:
        job.attempts += 1
        pause = backoff
        try:
            response = await pick().request(
                "POST",
                f"/api/v1/cases/{job.case_id}/transitions",
                headers=headers,
                body=body,
                timeout=request_timeout,
            )
        except loadgen.TransportError as error:
            job.errors[error.kind] += 1
            uncertain = uncertain or error.kind != "refused"
        else:
            if response.status == 200:
                job.done.append(action)
                return True
            code = ""
            try:
                code = str(response.json().get("code", ""))
            except (ValueError, AttributeError):
                pass
            if response.status == 409 and uncertain and code == "illegal_transition":
                status = await _status_of(pick, token, job, give_up_at)
                if status in REACHED[action]:
                    job.replayed += 1
                    job.done.append(action)
                    return True
            if response.status == 429 or response.status >= 500:
                job.errors[f"http_{response.status}_{code}"] += 1
                try:
                    pause = max(pause, min(1.0, float(response.headers.get("retry-after", 0))))
                except ValueError:
                    pass
            else:
                job.rejected = f"{action}: {response.status} {response.body[:300]!r}"
                return False
        remaining = give_up_at - time.monotonic()
        await asyncio.sleep(max(0.0, min(remaining, pause * rng.uniform(0.5, 1.5))))
        backoff = min(backoff * 2, 1.0)
    job.gave_up = True
    return False


async def approve(
    pick: Pick,
    world: ApprovalWorld,
    job: CaseJob,
    *,
    deadline: float,
    request_timeout: float,
    rng: random.Random,
    progress: list[int] | None = None,
) -> None:
    """The clerk accepts, the reviewer starts the review and approves."""
    desk = world.desks[job.desk]
    for action in STEPS:
        token = desk.clerk.token if action == "accept" else desk.reviewer.token
        ok = await transition_until_acknowledged(
            pick, token, job, action, deadline=deadline, request_timeout=request_timeout, rng=rng
        )
        if not ok:
            return
        if progress is not None:
            progress[0] += 1


# --------------------------------------------------------------------------- checks


@dataclass
class Consequences:
    cases: int = 0
    approved: int = 0
    licences: int = 0
    releases: int = 0
    bundles_released: int = 0
    timelines_complete: int = 0
    status_messages: int = 0
    deliveries: Counter[str] = field(default_factory=Counter)
    deliveries_retried: int = 0  # failed at least once, then delivered
    deliveries_late: int = 0  # delivered ≥ FIRST_RETRY_S after the event (eager: the retry)
    messages_undelivered: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, check: str, text: str) -> None:
        self.problems.setdefault(check, []).append(text)

    def describe(self) -> str:
        return (
            f"cases={self.cases} approved={self.approved} licences={self.licences} "
            f"bundle children released={self.releases} (of {self.bundles_released} due) "
            f"cross-region timelines complete={self.timelines_complete} "
            f"status messages={self.status_messages}; deliveries {dict(self.deliveries)}, "
            f"failed at least once then delivered {self.deliveries_retried}, delivered "
            f"≥ FIRST_RETRY_S after their event {self.deliveries_late}; undelivered hand-off "
            f"messages "
            f"{self.messages_undelivered}"
        )


CHECKS = {
    "licences": "every approved case has exactly one licence (and no other case has one)",
    "steps": "every case took each step once, in order",
    "bundles": "every releasable bundle child released exactly once (one release step)",
    "cross_region": "every cross-region step delivered: timeline once each, in order, "
    "remote status = handling status",
    "deliveries": "no EventDelivery pending or parked; every hand-off message delivered",
}


def check_consequences(world: ApprovalWorld) -> Consequences:
    """From the database: each consequence of each approval happened exactly once."""
    from django.db import connections
    from django.db.models import Count

    from tongban.cases.crossregion.services import STATUS
    from tongban.cases.models import Case, CaseStatus, CaseTransition, ReceivedApplication
    from tongban.core.models import EventDelivery
    from tongban.interchange.models import OutboundMessage
    from tongban.licenses.models import License

    connections.close_all()  # a fresh view after the servers' writes
    report = Consequences()
    for check in CHECKS:
        report.problems[check] = []
    licences = dict(
        License.objects.values("case_id").annotate(n=Count("id")).values_list("case_id", "n")
    )
    report.licences = sum(licences.values())
    steps: dict[Any, list[str]] = {}
    for case_id, action in CaseTransition.objects.order_by(
        "case_id", "occurred_at", "pk"
    ).values_list("case_id", "action"):
        steps.setdefault(case_id, []).append(action)
    status = dict(Case.objects.values_list("pk", "status"))
    numbers = dict(Case.objects.values_list("pk", "case_number"))
    forms = dict(Case.objects.values_list("pk", "application__form_data"))
    report.cases = len(status)
    downstream = {v: k for k, v in world.downstream_of.items()}
    for case_id, case_status in status.items():
        approved = case_status in (CaseStatus.APPROVED, CaseStatus.COMPLETED)
        report.approved += int(approved)
        n = licences.get(case_id, 0)
        if approved and n != 1:
            report.problem("licences", f"approved case {case_id} has {n} licences")
        if not approved and n:
            report.problem("licences", f"case {case_id} ({case_status}) has {n} licences")
        history = steps.get(case_id, [])
        if str(case_id) in downstream:  # submitted waiting; released once (bundles check)
            expected = ["submit", "release"] if "release" in history else ["submit"]
        else:
            expected = ["submit"]
        if approved:
            expected += list(STEPS)
        else:  # not (yet) approved: a prefix of the steps, each once
            rest = history[len(expected) :]
            expected += list(STEPS[: len(rest)])
        if history != expected:
            report.problem("steps", f"case {case_id}: steps {history}")
    for upstream, child in world.downstream_of.items():
        released = steps.get(uuid_of(child), []).count("release")
        report.releases += released
        due = status.get(uuid_of(upstream)) in (CaseStatus.APPROVED, CaseStatus.COMPLETED)
        report.bundles_released += int(due)
        if released != int(due):
            report.problem("bundles", f"downstream {child}: {released} release steps (due {due})")
        if due and status.get(uuid_of(child)) == CaseStatus.WAITING:
            report.problem("bundles", f"downstream {child} still waiting")
        if released:  # the upstream's output flowed into the child's form
            number = numbers[uuid_of(upstream)]
            if forms[uuid_of(child)].get("certificate_number") != number:
                report.problem("bundles", f"downstream {child} lacks the certificate {number}")
    # Status messages sent per received application and step (each step reported once).
    sent: Counter[tuple[str, str]] = Counter()
    for payload in OutboundMessage.objects.filter(kind=STATUS).values_list("body", flat=True):
        message = json.loads(payload)["payload"]
        sent[(str(message["received_id"]), str(message.get("action", "")))] += 1
    report.status_messages = sum(sent.values())
    received = {str(r.pk): r for r in ReceivedApplication.objects.all()}
    for case_id, received_id in world.received_of.items():
        row = received[received_id]
        actions = [entry["action"] for entry in row.timeline]
        taken = [a for a in steps.get(uuid_of(case_id), []) if a in ("submit", *STEPS)]
        expected = CROSS_REGION_TIMELINE[:2] + taken
        handling = status.get(uuid_of(case_id))
        repeated = {a: n for (r, a), n in sent.items() if r == received_id and n != 1}
        if actions != expected or row.remote_status != handling or repeated:
            report.problem(
                "cross_region",
                f"received {received_id}: timeline {actions}, remote_status "
                f"{row.remote_status!r}; handling case {handling!r} after {taken}"
                + (f"; status messages sent more than once: {repeated}" if repeated else ""),
            )
        else:
            report.timelines_complete += 1
    report.messages_undelivered = OutboundMessage.objects.filter(delivered_at__isnull=True).count()
    first_retry = _first_retry_s()
    for delivery in EventDelivery.objects.select_related("event").iterator():
        report.deliveries[delivery.status] += 1
        if delivery.status == "delivered":
            report.deliveries_retried += int(
                delivery.attempts > 1
            )  # each attempt is counted before it runs
            late = (delivery.delivered_at - delivery.event.created_at).total_seconds()
            report.deliveries_late += int(late >= first_retry)
        else:
            report.problem(
                "deliveries",
                f"delivery {delivery.pk} ({delivery.handler}) {delivery.status} after "
                f"{delivery.attempts} attempts: {delivery.last_error[:200]}",
            )
    if report.messages_undelivered:
        report.problem("deliveries", f"{report.messages_undelivered} hand-off messages undelivered")
    connections.close_all()
    return report


def uuid_of(value: str) -> Any:
    import uuid

    return uuid.UUID(value)


def _first_retry_s() -> float:
    from django.conf import settings

    return float(settings.TONGBAN["EVENTS"]["FIRST_RETRY_S"])


def pending_work() -> tuple[int, int]:
    """(event deliveries pending, hand-off messages undelivered) — what is still owed."""
    from django.db import connections

    from tongban.core.models import DeliveryStatus, EventDelivery
    from tongban.interchange.models import OutboundMessage

    try:
        return (
            EventDelivery.objects.filter(status=DeliveryStatus.PENDING).count(),
            OutboundMessage.objects.filter(delivered_at__isnull=True).count(),
        )
    finally:
        connections.close_all()


def print_checks(report: Consequences, extra: dict[str, bool]) -> dict[str, bool]:
    """PASS/FAIL per check (the consequence checks, then the scenario's own)."""
    checks = {text: not report.problems.get(key) for key, text in CHECKS.items()}
    checks.update(extra)
    for key, problems in report.problems.items():
        for problem in problems[:8]:
            print(f"  {key}: {problem}")
        if len(problems) > 8:
            print(f"  {key}: … {len(problems) - 8} more")
    for name, passed in checks.items():
        print(f"  [{'PASS' if passed else 'FAIL'}] {name}")
    return checks


def job_summary(jobs: list[CaseJob]) -> dict[str, Any]:
    causes: Counter[str] = Counter()
    for job in jobs:
        causes.update(job.errors)
    return {
        "approved": sum(job.approved for job in jobs),
        "steps": sum(len(job.done) for job in jobs),
        "attempts": sum(job.attempts for job in jobs),
        "retried": sum(job.attempts > len(job.done) for job in jobs),
        "replayed": sum(job.replayed for job in jobs),
        "rejected": [job.rejected for job in jobs if job.rejected],
        "gave_up": sum(job.gave_up for job in jobs),
        "causes": dict(sorted(causes.items())),
        "by_kind": dict(Counter(job.kind for job in jobs if job.approved)),
    }
