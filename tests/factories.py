"""Factories for tests: a small catalog in two provinces, people with valid ID numbers."""

from __future__ import annotations

import base64
import itertools
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django_otp.oath import totp

from tongban.catalog.models import Material, ServiceItem
from tongban.catalog.services import item_publish
from tongban.core.ids import synthetic_id_number, uscc_checksum
from tongban.core.models import Division
from tongban.identity.models import Department, StaffMember
from tongban.identity.selectors import Actor, actor_for_user
from tongban.identity.services import citizen_register, staff_create

TOTP_KEY = "3132333435363738393031323334353637383930"
PASSWORD = "Str0ng-Passw0rd!"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40

_sequence = itertools.count(1)

FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "测试申请表",
    "required": ["reason", "move_date"],
    "properties": {
        "reason": {"type": "string", "title": "申请事由", "maxLength": 50},
        "move_date": {"type": "string", "title": "迁入日期", "format": "date"},
        "household_size": {"type": "integer", "title": "家庭人数", "minimum": 1, "maximum": 20},
        "category": {"type": "string", "title": "类别", "enum": ["投靠", "就业"]},
        "spouse_id_number": {"type": "string", "title": "配偶身份证号", "format": "id_number"},
    },
}


def division_tree() -> dict[str, Division]:
    rows = [
        ("000000", "中华人民共和国", "nation", None),
        ("440000", "广东省", "province", "000000"),
        ("440100", "广州市", "city", "440000"),
        ("440106", "天河区", "county", "440100"),
        ("440300", "深圳市", "city", "440000"),
        ("330000", "浙江省", "province", "000000"),
        ("330100", "杭州市", "city", "330000"),
    ]
    for code, name, level, parent in rows:
        Division.objects.get_or_create(
            code=code, defaults={"name": name, "level": level, "parent_id": parent}
        )
    return {code: Division.objects.get(code=code) for code, *_ in rows}


def department(division: str = "440100", name: str = "广州市公安局") -> Department:
    first17 = f"11{division[:6]}MB{next(_sequence):07d}"
    return Department.objects.create(
        code=first17 + uscc_checksum(first17), name=name, division_id=division
    )


def item(
    dept: Department,
    *,
    committed: int = 5,
    legal: int = 20,
    objects: list[str] | None = None,
    **extra: Any,
) -> ServiceItem:
    n = next(_sequence)
    catalog_code = f"44010100{n % 10000:04d}"  # 12 digits however many tests ran before
    obj = ServiceItem.objects.create(
        implementation_code=f"{dept.code}3{catalog_code}",
        catalog_code=catalog_code,
        name=extra.pop("name", f"户口迁入登记{n}"),
        item_type="07",
        department=dept,
        division_id=dept.division_id,
        conditions="符合迁入条件",
        legal_limit_days=legal,
        committed_limit_days=committed,
        service_objects=objects or ["citizen"],
        themes=["户籍办理"],
        form_schema=extra.pop("form_schema", FORM_SCHEMA),
        **extra,
    )
    Material.objects.create(
        item=obj, code="M01", name="居民身份证", material_type="1", is_mandatory=True, order=1
    )
    Material.objects.create(
        item=obj, code="M02", name="结婚证", material_type="1", is_mandatory=False, order=2
    )
    item_publish(item=obj, actor="test")
    obj.refresh_from_db()
    return obj


def citizen(name: str = "李明", county: str = "440106", phone: str | None = None) -> Actor:
    n = next(_sequence)
    c = citizen_register(
        real_name=name,
        id_number=synthetic_id_number(county, date(1990, 1, 1 + n % 27), n % 999 + 1),
        phone=phone or f"139{n:08d}",
        password=PASSWORD,
    )
    return actor_for_user(c.user)


def staff(
    dept: Department, roles: list[str], scope: str | None = None, username: str | None = None
) -> Actor:
    n = next(_sequence)
    member = staff_create(
        username=username or f"staff{n}",
        password=PASSWORD,
        real_name=f"工作人员{n}",
        department=dept,
        scope=Division.objects.get(code=scope or dept.division_id),
        roles=roles,
        totp_key=TOTP_KEY,
    )
    return actor_for_user(member.user)


def otp_now() -> str:
    return f"{totp(bytes.fromhex(TOTP_KEY)):06d}"


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


VALID_FORM = {
    "reason": "工作调动",
    "move_date": "2026-12-01",
    "household_size": 3,
    "category": "就业",
}


def user_model() -> Any:
    return get_user_model()


def staff_member(actor: Actor) -> StaffMember:
    assert actor.staff is not None
    return actor.staff
