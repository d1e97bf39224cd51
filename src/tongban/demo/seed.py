"""Demo data: divisions, calendar, the real demo catalog, fixed demo accounts and synthetic
people (Faker zh_CN, valid check digits). Idempotent: running it twice changes nothing."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from faker import Faker

from tongban.catalog.models import BundleItem, BundleStatus, ServiceItem
from tongban.catalog.selectors import version_declared_elements
from tongban.catalog.services import (
    catalog_seed,
    load_demo_catalog_document,
    load_shared_data_document,
)
from tongban.core import clock
from tongban.core.ids import synthetic_id_number, synthetic_uscc, uscc_checksum
from tongban.core.models import Division
from tongban.core.services import calendar_seed_year, divisions_load
from tongban.exchange.models import (
    DataElement,
    Grant,
    GrantStatus,
    LegalEntityRecord,
    PopulationRecord,
    SocialSecurityRecord,
)
from tongban.exchange.services import (
    grant_decide,
    grant_request,
    legal_entity_record_put,
    population_record_put,
    registries_seed,
    social_security_record_put,
)
from tongban.identity.models import Citizen, Department, Enterprise, StaffMember, StaffRole
from tongban.identity.selectors import actor_for_user
from tongban.identity.services import citizen_register, enterprise_register, staff_create

STAFF_PASSWORD = "Tongban#2026demo"
CITIZEN_PASSWORD = "Citizen#2026demo"
# TOTP secret (hex) shared by all demo staff; `tongban totp USER` prints the current code.
DEMO_TOTP_KEY = "3132333435363738393031323334353637383930"  # hex, RFC 6238 test secret
DEMO_CITIZEN_PHONE = "13800138000"
DEMO_ENTERPRISE_AGENT_PHONE = "13900139000"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    password: str
    note: str


def _department_slug(department: Department, index: int) -> str:
    prefix = (
        "gz"
        if department.division_id.startswith("4401")
        else "gd"
        if department.division_id.startswith("44")
        else "zj"
    )
    return f"{prefix}{index:02d}"


@transaction.atomic
def seed_demo(*, synthetic_people: int = 30) -> list[DemoAccount]:
    divisions_load()
    this_year = clock.today().year
    for year in range(2023, this_year + 2):
        calendar_seed_year(year=year)
    catalog_seed()
    accounts: list[DemoAccount] = []
    user_model = get_user_model()

    if not Citizen.objects.filter(phone=DEMO_CITIZEN_PHONE).exists():
        citizen_register(
            real_name="李明",
            id_number=synthetic_id_number("440106", date(1990, 3, 7), 123),
            phone=DEMO_CITIZEN_PHONE,
            password=CITIZEN_PASSWORD,
        )
        agent = citizen_register(
            real_name="陈静",
            id_number=synthetic_id_number("330106", date(1985, 11, 20), 246),
            phone=DEMO_ENTERPRISE_AGENT_PHONE,
            password=CITIZEN_PASSWORD,
        )
        enterprise_register(
            uscc=synthetic_uscc("440101", "MA59DEMX1"),
            name="广州通办示例科技有限公司",
            legal_representative="陈静",
            agent=agent,
        )
    accounts.append(
        DemoAccount(
            "申请人 citizen", DEMO_CITIZEN_PHONE, CITIZEN_PASSWORD, "李明；也可用短信验证码登录"
        )
    )
    accounts.append(
        DemoAccount(
            "企业经办人 enterprise agent",
            DEMO_ENTERPRISE_AGENT_PHONE,
            CITIZEN_PASSWORD,
            "广州通办示例科技有限公司",
        )
    )

    # The demo catalog's departments only: account names (gz19-clerk…) stay the same whatever
    # other seeding (bundles, supervision) adds departments later.
    catalog_codes = [entry["code"] for entry in load_demo_catalog_document()["departments"]]
    departments = list(
        Department.objects.filter(items__isnull=False, code__in=catalog_codes)
        .distinct()
        .order_by("division_id", "name")
    )
    for index, department in enumerate(departments, start=1):
        slug = _department_slug(department, index)
        for suffix, roles, label in (
            ("clerk", [StaffRole.INTAKE], "受理"),
            ("reviewer", [StaffRole.REVIEW, StaffRole.DECISION], "审查/决定"),
        ):
            username = f"{slug}-{suffix}"
            if not user_model.objects.filter(username=username).exists():
                staff_create(
                    username=username,
                    password=STAFF_PASSWORD,
                    real_name=f"{department.name[:12]}{label}员",
                    department=department,
                    scope=department.division,
                    roles=list(roles),
                    totp_key=DEMO_TOTP_KEY,
                )
            accounts.append(
                DemoAccount(
                    f"{label} {department.name}",
                    username,
                    STAFF_PASSWORD,
                    "TOTP: tongban totp " + username,
                )
            )

    for username, scope_code, note in (
        ("gd-catalog-admin", "440000", "广东省事项管理员"),
        ("zj-catalog-admin", "330000", "浙江省事项管理员"),
    ):
        home = (
            Department.objects.filter(division__code__startswith=scope_code[:2])
            .order_by("division_id")
            .first()
        )
        if home and not user_model.objects.filter(username=username).exists():
            staff_create(
                username=username,
                password=STAFF_PASSWORD,
                real_name=note,
                department=home,
                scope=Division.objects.get(code=scope_code),
                roles=[StaffRole.ADMIN],
                totp_key=DEMO_TOTP_KEY,
            )
        accounts.append(
            DemoAccount("管理 catalog admin", username, STAFF_PASSWORD, note + "（/admin/）")
        )
    if not user_model.objects.filter(username="admin").exists():
        user_model.objects.create_superuser(username="admin", password=STAFF_PASSWORD)
        TOTPDevice.objects.create(
            user=user_model.objects.get(username="admin"),
            name="default",
            confirmed=True,
            key=DEMO_TOTP_KEY,
        )
    accounts.append(DemoAccount("平台管理员 superuser", "admin", STAFF_PASSWORD, "/admin/"))

    _seed_synthetic_people(synthetic_people)
    accounts.extend(_seed_exchange())
    # 一件事 scenarios with their items, departments and staff (demo/bundles.py).
    from .bundles import seed_bundles

    accounts.extend(seed_bundles())
    _seed_grants(
        BundleItem.objects.filter(bundle__status=BundleStatus.PUBLISHED)
        .values_list("item__implementation_code", flat=True)
        .distinct()
    )
    # Supervisors, stuck-case thresholds and a few stuck cases (demo/supervision.py).
    from .supervision import seed_supervision

    accounts.extend(seed_supervision() or [])
    return accounts


# ---------------------------------------------------------------- data-sharing exchange

# Owners of the built-in registries (一数一源). The two data bureaux are synthetic (MB99…).
REGISTRY_OWNERS = {
    "population": "11440100007483172Q",  # 广州市公安局
    "legal_entity": "11440000MB2D023437",  # 广东省市场监督管理局
    "social_security": "11440000553612461J",  # 广东省人力资源和社会保障厅
}
DATA_BUREAUX = (
    ("440000", "11440000MB99000700", "广东省政务服务和数据管理局", "gd-security"),
    ("330000", "11330000MB99000800", "浙江省大数据发展管理局", "zj-security"),
)
MARITAL_STATUSES = ["未婚", "已婚", "已婚", "已婚", "离婚", "丧偶"]


def data_bureau(division: str, body: str, name: str) -> Department:
    code = body[:17] + uscc_checksum(body[:17])
    department, _ = Department.objects.get_or_create(
        code=code, defaults={"name": name, "division_id": division}
    )
    return department


def _address(id_number: str, fake: Faker) -> str:
    county = Division.objects.filter(code=id_number[:6]).select_related("parent__parent").first()
    if county is None:
        return "广东省广州市天河区" + fake.street_address()
    names = [county.name]
    parent = county.parent
    while parent is not None and parent.level != "nation":
        names.insert(0, parent.name)
        parent = parent.parent
    return "".join(dict.fromkeys(names)) + fake.street_address()


def _gender(id_number: str) -> str:
    return "男" if int(id_number[16]) % 2 else "女"


def _birth(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def _staff_with(department: Department, role: str) -> StaffMember | None:
    return next(
        (m for m in StaffMember.objects.filter(department=department) if m.has_role(role)), None
    )


def _seed_exchange() -> list[DemoAccount]:
    """Registries, their synthetic rows (consistent with the demo accounts), data stewards,
    security officers and approved grants for the items annotated with shared data."""
    accounts: list[DemoAccount] = []
    user_model = get_user_model()
    bureaux = {
        division: data_bureau(division, body, name) for division, body, name, _ in DATA_BUREAUX
    }
    owners = {
        code: department
        for code, uscc in REGISTRY_OWNERS.items()
        if (department := Department.objects.filter(code=uscc).first()) is not None
    }
    owners["license_library"] = bureaux["440000"]
    registries_seed(owners=owners)
    for registry_code, owner in owners.items():
        username = f"steward-{registry_code.replace('_', '-')}"
        if not user_model.objects.filter(username=username).exists():
            staff_create(
                username=username,
                password=STAFF_PASSWORD,
                real_name=f"{owner.name[:12]}数据管理员",
                department=owner,
                scope=owner.division,
                roles=[StaffRole.ADMIN],
                totp_key=DEMO_TOTP_KEY,
            )
        accounts.append(
            DemoAccount(f"数据责任部门 {owner.name}", username, STAFF_PASSWORD, "审批共享申请")
        )
    for division, _, name, username in DATA_BUREAUX:
        if not user_model.objects.filter(username=username).exists():
            staff_create(
                username=username,
                password=STAFF_PASSWORD,
                real_name=f"{name[:8]}安全审计员",
                department=bureaux[division],
                scope=bureaux[division].division,
                roles=[StaffRole.SECURITY],
                totp_key=DEMO_TOTP_KEY,
            )
        accounts.append(
            DemoAccount(
                "安全审计 security officer", username, STAFF_PASSWORD, "/workbench/security/"
            )
        )

    fake = Faker("zh_CN")
    fake.seed_instance(5)
    rng = random.Random(5)
    now = clock.now()
    known = set(PopulationRecord.objects.values_list("id_number", flat=True))
    for citizen in Citizen.objects.order_by("pk"):
        if citizen.id_number in known:
            continue
        population_record_put(
            id_number=citizen.id_number,
            name=citizen.real_name,
            birth_date=_birth(citizen.id_number),
            gender=_gender(citizen.id_number),
            household_address=_address(citizen.id_number, fake),
            marital_status="已婚"
            if citizen.phone == DEMO_CITIZEN_PHONE
            else rng.choice(MARITAL_STATUSES),
            updated_at=now - timedelta(hours=rng.randrange(1, 20)),
        )
        if not SocialSecurityRecord.objects.filter(id_number=citizen.id_number).exists():
            social_security_record_put(
                id_number=citizen.id_number,
                status="参保缴费",
                insured_since=date(max(_birth(citizen.id_number).year + 22, 2000), 7, 1),
                updated_at=now - timedelta(days=rng.randrange(1, 25)),
            )
    known = set(LegalEntityRecord.objects.values_list("uscc", flat=True))
    for enterprise in Enterprise.objects.order_by("pk"):
        if enterprise.uscc in known:
            continue
        legal_entity_record_put(
            uscc=enterprise.uscc,
            name=enterprise.name,
            legal_representative=enterprise.legal_representative,
            registered_capital=Decimal(rng.choice([10, 50, 100, 500, 1000])),
            industry_code=rng.choice(["6510", "6421", "7320", "5191", "3990"]),
            status="存续",
            updated_at=now - timedelta(hours=rng.randrange(1, 20)),
        )

    _seed_grants(load_shared_data_document()["items"])
    return accounts


def _seed_grants(item_codes: Iterable[str]) -> None:
    """Approved grants for these items' declared shared-data elements (one per registry),
    requested by a decision-maker of the item's department and approved by the registry's
    data steward, so that prefill and 零材料 work in the demo; idempotent."""
    elements = {e.code: e for e in DataElement.objects.select_related("registry__department")}
    for code in item_codes:
        item = (
            ServiceItem.objects.filter(implementation_code=code)
            .select_related("current_version", "department")
            .first()
        )
        requester = _staff_with(item.department, StaffRole.DECISION) if item else None
        if item is None or item.current_version is None or requester is None:
            continue
        by_registry: dict[int, list[str]] = {}
        for element_code in sorted(version_declared_elements(item.current_version)):
            if element_code in elements:
                by_registry.setdefault(elements[element_code].registry_id, []).append(element_code)
        for registry_id, codes in by_registry.items():
            if Grant.objects.filter(
                department=item.department,
                purpose=code,
                registry_id=registry_id,
                status=GrantStatus.APPROVED,
            ).exists():
                continue
            registry = elements[codes[0]].registry
            steward = _staff_with(registry.department, StaffRole.ADMIN)
            if steward is None:
                continue
            grant = grant_request(
                actor=actor_for_user(requester.user),
                purpose=code,
                elements=codes,
                reason="演示：申报时经申请人授权预填和核验，免交可共享的材料",
            )
            grant_decide(actor=actor_for_user(steward.user), grant_id=grant.pk, approve=True)


def _seed_synthetic_people(count: int) -> None:
    """Synthetic citizens with valid ID numbers, for a populated registry and workbench."""
    if Citizen.objects.count() >= count:
        return
    fake = Faker("zh_CN")
    fake.seed_instance(2026)
    rng = random.Random(2026)  # deterministic demo data
    counties = list(
        Division.objects.filter(level="county").values_list("code", flat=True)[:200]
    ) or ["440106"]
    made = 0
    attempt = 0
    while made < count and attempt < count * 5:
        attempt += 1
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
        id_number = synthetic_id_number(rng.choice(counties), birth, rng.randrange(1, 999))
        phone = "13" + f"{rng.randrange(0, 10**9):09d}"
        if (
            Citizen.objects.filter(id_number=id_number).exists()
            or Citizen.objects.filter(phone=phone).exists()
        ):
            continue
        citizen = citizen_register(
            real_name=fake.name(), id_number=id_number, phone=phone, password=None
        )
        made += 1
        if made % 5 == 0:  # every fifth person runs a synthetic enterprise
            body = "MA" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(7))
            uscc = synthetic_uscc(citizen.id_number[:6], body)
            if not Enterprise.objects.filter(uscc=uscc).exists():
                enterprise_register(
                    uscc=uscc,
                    name=fake.company(),
                    legal_representative=citizen.real_name,
                    agent=citizen,
                )
