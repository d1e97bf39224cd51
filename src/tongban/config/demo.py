"""Demo data: divisions, calendar, the real demo catalog, fixed demo accounts and synthetic
people (Faker zh_CN, valid check digits). Idempotent: running it twice changes nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from faker import Faker

from tongban.catalog.services import catalog_seed
from tongban.core import clock
from tongban.core.ids import resident_id_checksum, uscc_checksum
from tongban.core.models import Division
from tongban.core.services import calendar_seed_year, divisions_load
from tongban.identity.models import Citizen, Department, Enterprise, StaffRole
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


def synthetic_id_number(division: str, birth: date, sequence: int) -> str:
    first17 = f"{division[:6]}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_checksum(first17)


def synthetic_uscc(division: str, body: str) -> str:
    first17 = f"91{division[:6]}{body[:9]}"
    return first17 + uscc_checksum(first17)


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

    departments = list(
        Department.objects.filter(items__isnull=False).distinct().order_by("division_id", "name")
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
    return accounts


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
