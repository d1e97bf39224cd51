"""Demo 一件事 (bundles): the State Council's first batch of key 一件事 (国发〔2024〕3号), five of
them configured end to end in Guangzhou — forms with x-element fields, shared materials,
dependencies with outputs, departments with staff accounts.

The component items are SYNTHETIC (no real guide is available to us for them; ADR 0005,
ADR 0012): departments with MB99… credit codes (valid check digits) except 广州市公安局, and
every item's legal basis says 演示合成事项. The other eight key 一件事 are seeded as drafts
that name their typical component items. Idempotent.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from tongban.catalog.bundles import DependencySpec, QuestionSpec, bundle_save
from tongban.catalog.models import BundleStatus, ServiceItem, SituationKind
from tongban.catalog.services import catalog_seed
from tongban.core.ids import uscc_checksum
from tongban.core.models import Division
from tongban.identity.models import Department, StaffRole
from tongban.identity.services import staff_create

from .seed import DEMO_TOTP_KEY, STAFF_PASSWORD, DemoAccount

SYNTHETIC_BASIS = "演示合成事项：非真实办事指南，仅用于演示“一件事一次办”（见 docs/adr/0012）"
DIVISION = "440100"
BASIS = "国发〔2024〕3号"

# key → (code, name); code None = synthetic (MB99…, check digit computed)
DEPARTMENTS: dict[str, tuple[str | None, str]] = {
    "health": (None, "广州市卫生健康委员会"),
    "cdc": (None, "广州市疾病预防控制中心"),
    "medical": (None, "广州市医疗保障局"),
    "police": ("11440100007483172Q", "广州市公安局"),
    "hrss": (None, "广州市人力资源和社会保障局"),
    "samr": (None, "广州市市场监督管理局"),
    "tax": (None, "国家税务总局广州市税务局"),
    "fire": (None, "广州市消防救援支队"),
    "urban": (None, "广州市城市管理和综合执法局"),
    "fund": (None, "广州住房公积金管理中心"),
    "civil": (None, "广州市民政局"),
}


def department_code(key: str) -> str:
    code, _ = DEPARTMENTS[key]
    if code:
        return code
    first17 = f"11440100MB99{list(DEPARTMENTS).index(key) + 101:05d}"
    return first17 + uscc_checksum(first17)


def _text(title: str, element: str = "", max_length: int = 100, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "string", "title": title, "maxLength": max_length, **extra}
    if element:
        spec["x-element"] = element
    return spec


# field name → spec; one spec per element so every item asks it the same way
F: dict[str, dict[str, Any]] = {
    "child_name": _text("新生儿姓名", "child.name", 30),
    "child_gender": _text("新生儿性别", "child.gender", 2, enum=["男", "女"]),
    "birth_date": _text("出生日期", "child.birth_date", 10, format="date"),
    "birth_place": _text("出生地点（医疗机构）", "child.birth_place"),
    # The guardian is the applicant (a parent applies), so these are the applicant's own
    # population-registry elements: prefilled and verified with consent, like any person.*.
    "guardian_name": _text("监护人姓名", "person.name", 30),
    "guardian_id_number": _text("监护人公民身份号码", "person.id_number", 18, format="id_number"),
    "relationship": _text("与新生儿关系", "guardian.relationship", 4, enum=["父亲", "母亲"]),
    "phone": _text("联系电话", "contact.phone", 11, format="phone"),
    "address": _text("联系地址", "contact.address", 200),
    "birth_certificate_number": _text("出生医学证明编号", "child.birth_certificate_number", 50),
    "household_number": _text("户口登记编号", "child.household_registration_number", 50),
    "business_name": _text("店铺名称", "business.name", 100),
    "business_address": _text("经营场所地址", "business.address", 200),
    "business_scope": _text("经营范围", "business.scope", 200),
    "operator_id_number": _text(
        "经营者公民身份号码", "business.operator_id_number", 18, format="id_number"
    ),
    "license_number": _text("营业执照登记编号", "business.license_number", 50),
    "enterprise_name": _text("企业名称", "enterprise.name", 100),
    "enterprise_uscc": _text("统一社会信用代码", "enterprise.uscc", 18, format="uscc"),
    "deregistration_reason": _text(
        "注销原因", "enterprise.deregistration_reason", 20, enum=["决议解散", "营业期限届满"]
    ),
    "tax_clearance_number": _text("清税证明编号", "enterprise.tax_clearance_number", 50),
    "person_name": _text("申请人姓名", "person.name", 30),
    "person_id_number": _text("申请人公民身份号码", "person.id_number", 18, format="id_number"),
    "retirement_date": _text("退休日期", "retiree.retirement_date", 10, format="date"),
    "pension_approval_number": _text("退休审批编号", "retiree.pension_approval_number", 50),
    "deceased_name": _text("逝者姓名", "deceased.name", 30),
    "deceased_id_number": _text("逝者公民身份号码", "deceased.id_number", 18, format="id_number"),
    "death_date": _text("死亡日期", "deceased.death_date", 10, format="date"),
    "death_certificate_number": _text("死亡医学证明编号", "deceased.death_certificate_number", 50),
    "household_cancellation_number": _text(
        "户口注销编号", "deceased.household_cancellation_number", 50
    ),
}


def _item(
    key: str,
    serial: int,
    name: str,
    department: str,
    days: int,
    fields: list[str],
    required: list[str],
    materials: list[tuple[str, bool]],
    *,
    extra_fields: dict[str, dict[str, Any]] | None = None,
    objects: tuple[str, ...] = ("citizen",),
) -> dict[str, Any]:
    properties = {name_: F[name_] for name_ in fields}
    properties.update(extra_fields or {})
    catalog_code = f"4401999{serial:05d}"
    return {
        "key": key,
        "implementation_code": f"{department_code(department)}3{catalog_code}",
        "catalog_code": catalog_code,
        "name": name,
        "item_type": "20",
        "department": department_code(department),
        "division": DIVISION,
        "legal_basis": SYNTHETIC_BASIS,
        "conditions": "演示合成事项，作为“一件事”的组成部分办理",
        "legal_limit_days": max(days * 4, 5),
        "committed_limit_days": days,
        "online_depth": 4,
        "visits_required": 0,
        "cross_province": False,
        "service_objects": list(objects),
        "themes": ["一件事一次办"],
        "form_schema": {
            "type": "object",
            "title": f"{name}申请表",
            "required": required,
            "properties": properties,
        },
        "materials": [
            {
                "name": material,
                "mandatory": mandatory,
                # An identity card the population registry can vouch for (零材料 with consent).
                "replaceable_by_shared_data": material in SHARED_ID_CARDS,
                "elements": SHARED_ID_CARDS.get(material, []),
                "material_type": "1",
            }
            for material, mandatory in materials
        ],
    }


GUARDIAN = ["guardian_name", "guardian_id_number"]
SHARED_ID_CARDS = {"监护人居民身份证": ["person.id_number", "person.name"]}
NEWBORN = ["child_name", "child_gender", "birth_date"]
ID_CARD = ("监护人居民身份证", True)
ITEMS: list[dict[str, Any]] = [
    # 新生儿出生一件事
    _item("birth_certificate", 1, "出生医学证明签发", "health", 1,
          [*NEWBORN, "birth_place", *GUARDIAN, "phone"],
          [*NEWBORN, "birth_place", *GUARDIAN], [ID_CARD, ("住院分娩记录", True)]),
    _item("vaccination", 2, "预防接种证办理", "cdc", 1,
          ["child_name", "birth_date", *GUARDIAN, "phone", "address"],
          ["child_name", "birth_date", "guardian_name", "phone"], [ID_CARD]),
    _item("maternity", 3, "生育医疗费用报销", "medical", 3,
          [*GUARDIAN, "birth_date", "phone"], [*GUARDIAN, "birth_date"],
          [ID_CARD, ("医疗费用票据", True)],
          extra_fields={"bank_account": _text("收款银行账号", "", 30, pattern=r"^\d{10,30}$")}),
    _item("birth_household", 4, "出生户口登记", "police", 1,
          [*NEWBORN, *GUARDIAN, "relationship", "address", "birth_certificate_number"],
          [*NEWBORN, *GUARDIAN, "relationship", "birth_certificate_number"],
          [ID_CARD, ("居民户口簿", True), ("结婚证", False)]),
    _item("child_insurance", 5, "城乡居民医保参保登记（新生儿）", "medical", 1,
          ["child_name", "guardian_id_number", "phone", "household_number"],
          ["child_name", "guardian_id_number", "household_number"], [ID_CARD]),
    _item("child_card", 6, "社会保障卡申领（新生儿）", "hrss", 2,
          [*NEWBORN, "guardian_id_number", "address", "household_number"],
          [*NEWBORN, "guardian_id_number", "household_number"],
          [ID_CARD, ("新生儿免冠照片", False)],
          extra_fields={"delivery": _text("领卡方式", "", 4, enum=["邮寄", "自取"])}),
    # 开办餐饮店一件事
    _item("sole_trader", 11, "个体工商户设立登记（餐饮）", "samr", 1,
          ["business_name", "business_address", "business_scope", "person_name",
           "operator_id_number", "phone"],
          ["business_name", "business_address", "business_scope", "operator_id_number"],
          [("经营者居民身份证", True), ("经营场所使用证明", True)]),
    _item("food_license", 12, "食品经营许可（餐饮服务）", "samr", 3,
          ["business_name", "business_address", "operator_id_number", "license_number"],
          ["business_name", "business_address", "license_number"],
          [("经营场所使用证明", True), ("食品安全管理制度", True)],
          extra_fields={"food_category": _text("经营项目", "", 20, enum=["热食类", "饮品"])}),
    _item("fire_check", 13, "公众聚集场所投入使用、营业前消防安全检查", "fire", 3,
          ["business_name", "business_address", "license_number"],
          ["business_name", "business_address", "license_number"],
          [("经营场所使用证明", True), ("消防设施平面图", True)],
          extra_fields={"floor_area": {"type": "number", "title": "营业面积（平方米）",
                                       "minimum": 1, "maximum": 100000}}),
    _item("signboard", 14, "户外招牌设置", "urban", 2,
          ["business_name", "business_address", "phone"], ["business_name", "business_address"],
          [("招牌设计效果图", True)]),
    # 企业注销登记一件事
    _item("tax_clearance", 21, "清税申报（注销）", "tax", 1,
          ["enterprise_name", "enterprise_uscc", "deregistration_reason"],
          ["enterprise_name", "enterprise_uscc", "deregistration_reason"],
          [("营业执照", True), ("清算报告", True)], objects=("citizen", "enterprise")),
    _item("social_deregistration", 22, "社会保险登记注销", "hrss", 1,
          ["enterprise_name", "enterprise_uscc", "deregistration_reason"],
          ["enterprise_name", "enterprise_uscc"], [("营业执照", True)],
          objects=("citizen", "enterprise")),
    _item("fund_deregistration", 23, "住房公积金缴存单位注销登记", "fund", 1,
          ["enterprise_name", "enterprise_uscc"], ["enterprise_name", "enterprise_uscc"],
          [("营业执照", True)], objects=("citizen", "enterprise")),
    _item("company_deregistration", 24, "企业注销登记", "samr", 1,
          ["enterprise_name", "enterprise_uscc", "deregistration_reason", "tax_clearance_number"],
          ["enterprise_name", "enterprise_uscc", "deregistration_reason", "tax_clearance_number"],
          [("营业执照", True), ("清算报告", True), ("股东会注销决议", True)],
          objects=("citizen", "enterprise")),
    # 退休一件事
    _item("retirement_approval", 31, "职工正常退休（职）申请", "hrss", 5,
          ["person_name", "person_id_number", "retirement_date", "phone"],
          ["person_name", "person_id_number", "retirement_date"],
          [("申请人居民身份证", True), ("职工档案", True)]),
    _item("pension", 32, "基本养老金待遇核定", "hrss", 5,
          ["person_name", "person_id_number", "pension_approval_number"],
          ["person_name", "person_id_number", "pension_approval_number"],
          [("申请人居民身份证", True)],
          extra_fields={"bank_account": _text("养老金收款账号", "", 30, pattern=r"^\d{10,30}$")}),
    _item("retiree_insurance", 33, "退休人员医保待遇核定", "medical", 3,
          ["person_name", "person_id_number", "pension_approval_number"],
          ["person_name", "person_id_number", "pension_approval_number"],
          [("申请人居民身份证", True)]),
    _item("fund_withdrawal", 34, "住房公积金退休提取", "fund", 1,
          ["person_name", "person_id_number", "pension_approval_number"],
          ["person_name", "person_id_number", "pension_approval_number"],
          [("申请人居民身份证", True)]),
    # 身后一件事
    _item("death_certificate", 41, "死亡医学证明签发", "health", 1,
          ["deceased_name", "deceased_id_number", "death_date", "person_name", "phone"],
          ["deceased_name", "deceased_id_number", "death_date", "person_name"],
          [("申请人居民身份证", True), ("逝者居民身份证", True)]),
    _item("household_cancellation", 42, "死亡户口注销", "police", 1,
          ["deceased_name", "deceased_id_number", "death_certificate_number", "person_name"],
          ["deceased_name", "deceased_id_number", "death_certificate_number"],
          [("申请人居民身份证", True), ("居民户口簿", True)]),
    _item("cremation", 43, "遗体火化及殡葬服务", "civil", 1,
          ["deceased_name", "death_date", "death_certificate_number", "phone"],
          ["deceased_name", "death_certificate_number"], [("申请人居民身份证", True)]),
    _item("funeral_grant", 44, "丧葬补助金、抚恤金申领及养老保险停保", "hrss", 5,
          ["deceased_name", "deceased_id_number", "household_cancellation_number", "person_name"],
          ["deceased_name", "deceased_id_number", "household_cancellation_number"],
          [("申请人居民身份证", True), ("亲属关系证明", True)]),
    _item("insurance_stop", 45, "基本医疗保险停保", "medical", 1,
          ["deceased_name", "deceased_id_number", "household_cancellation_number"],
          ["deceased_name", "deceased_id_number", "household_cancellation_number"],
          [("申请人居民身份证", True)]),
    _item("fund_inheritance", 46, "住房公积金提取（继承）", "fund", 3,
          ["deceased_name", "deceased_id_number", "household_cancellation_number", "person_name"],
          ["deceased_name", "deceased_id_number", "household_cancellation_number"],
          [("申请人居民身份证", True), ("亲属关系证明", True)]),
]  # fmt: skip

# code, name, lead department, items (keys), dependencies (upstream, downstream, outputs)
SCENARIOS: list[tuple[str, str, str, list[str], list[tuple[str, str, list[str]]]]] = [
    (
        "newborn",
        "新生儿出生一件事",
        "health",
        ["birth_certificate", "vaccination", "maternity", "birth_household", "child_insurance",
         "child_card"],
        [
            ("birth_certificate", "birth_household", ["child.birth_certificate_number"]),
            ("birth_household", "child_insurance", ["child.household_registration_number"]),
            ("birth_household", "child_card", ["child.household_registration_number"]),
        ],
    ),
    (
        "restaurant",
        "开办餐饮店一件事",
        "samr",
        ["sole_trader", "food_license", "fire_check", "signboard"],
        [
            ("sole_trader", "food_license", ["business.license_number"]),
            ("sole_trader", "fire_check", ["business.license_number"]),
        ],
    ),
    (
        "deregistration",
        "企业注销登记一件事",
        "samr",
        ["tax_clearance", "social_deregistration", "fund_deregistration",
         "company_deregistration"],
        [
            ("tax_clearance", "company_deregistration", ["enterprise.tax_clearance_number"]),
            ("social_deregistration", "company_deregistration", []),
            ("fund_deregistration", "company_deregistration", []),
        ],
    ),
    (
        "retirement",
        "退休一件事",
        "hrss",
        ["retirement_approval", "pension", "retiree_insurance", "fund_withdrawal"],
        [
            ("retirement_approval", "pension", ["retiree.pension_approval_number"]),
            ("retirement_approval", "retiree_insurance", ["retiree.pension_approval_number"]),
            ("retirement_approval", "fund_withdrawal", ["retiree.pension_approval_number"]),
        ],
    ),
    (
        "after_death",
        "身后一件事",
        "civil",
        ["death_certificate", "household_cancellation", "cremation", "funeral_grant",
         "insurance_stop", "fund_inheritance"],
        [
            ("death_certificate", "household_cancellation",
             ["deceased.death_certificate_number"]),
            ("death_certificate", "cremation", ["deceased.death_certificate_number"]),
            ("household_cancellation", "funeral_grant",
             ["deceased.household_cancellation_number"]),
            ("household_cancellation", "insurance_stop",
             ["deceased.household_cancellation_number"]),
            ("household_cancellation", "fund_inheritance",
             ["deceased.household_cancellation_number"]),
        ],
    ),
]  # fmt: skip

# 情形引导: bundle code → (questions, item key → condition). An item without a condition is
# always included; an item's condition implies those of the items it depends on.
SITUATIONS: dict[str, tuple[list[QuestionSpec], dict[str, dict[str, list[str]]]]] = {
    "newborn": (
        [
            QuestionSpec("settle_here", "新生儿是否在本市落户？"),
            QuestionSpec("social_card", "是否需要为新生儿办理社会保障卡？"),
            QuestionSpec("maternity_claim", "是否申请生育医疗费用报销？"),
        ],
        {
            "maternity": {"maternity_claim": ["是"]},
            "birth_household": {"settle_here": ["是"]},
            "child_insurance": {"settle_here": ["是"]},
            "child_card": {"settle_here": ["是"], "social_card": ["是"]},
        },
    ),
    "restaurant": (
        [
            QuestionSpec(
                "floor_area",
                "经营场所营业面积？",
                SituationKind.CHOICE,
                ("300平方米以下", "300平方米及以上"),
            ),
            QuestionSpec("signboard", "是否设置户外招牌？"),
        ],
        {
            "fire_check": {"floor_area": ["300平方米及以上"]},
            "signboard": {"signboard": ["是"]},
        },
    ),
}

# The rest of the first batch: drafts naming their typical component items.
DRAFTS: list[tuple[str, str, str, str]] = [
    ("enterprise_change", "企业信息变更一件事", "samr",
     "营业执照变更 + 税务、社保、医保、公积金、银行信息同步变更 + 相关许可证变更"),
    ("transport_company", "开办运输企业一件事", "samr",
     "营业执照 + 道路运输经营许可 + 车辆道路运输证 + 从业资格"),
    ("utilities", "水电气网联合报装一件事", "urban",
     "供水、供电、供气、宽带联合报装 + 占掘路、绿地许可"),
    ("credit_repair", "信用修复一件事", "samr", "信用中国与国家企业信用信息公示系统同步修复"),
    ("bankruptcy_check", "企业破产信息核查一件事", "samr",
     "管理人一次查询不动产、车辆、社保、公积金、税务、银行、知识产权"),
    ("school_enrolment", "教育入学一件事", "civil", "入学报名，共享户籍、不动产、居住证、社保数据"),
    ("social_card_services", "社会保障卡居民服务“一卡通”一件事", "hrss",
     "交通出行、旅游观光、文化体验、就医购药等一卡通用"),
    ("second_hand_housing", "二手房转移登记及水电气网联动过户一件事", "urban",
     "不动产转移登记 + 税费缴纳 + 水电气网联动过户"),
]  # fmt: skip


def _departments_document() -> list[dict[str, Any]]:
    return [
        {"code": department_code(key), "name": name, "division": DIVISION}
        for key, (_, name) in DEPARTMENTS.items()
    ]


@transaction.atomic
def seed_bundles() -> list[DemoAccount]:
    """Items, bundles and staff accounts for the demo 一件事; idempotent."""
    catalog_seed(document={"departments": _departments_document(), "items": ITEMS})
    division = Division.objects.get(code=DIVISION)
    departments = {key: Department.objects.get(code=department_code(key)) for key in DEPARTMENTS}
    items = {
        entry["key"]: ServiceItem.objects.get(implementation_code=entry["implementation_code"])
        for entry in ITEMS
    }
    for code, name, lead, keys, dependencies in SCENARIOS:
        questions, conditions = SITUATIONS.get(code, ([], {}))
        bundle_save(
            code=code,
            name=name,
            division=division,
            lead_department=departments[lead],
            items=[items[key] for key in keys],
            dependencies=[
                DependencySpec(keys.index(up), keys.index(down), tuple(outputs))
                for up, down, outputs in dependencies
            ],
            actor="system:seed",
            description=f"一次申请、一套材料，{len(keys)} 个事项由相关部门并联办理。",
            basis=BASIS,
            is_synthetic=True,
            questions=questions,
            conditions=[conditions.get(key, {}) for key in keys],
        )
    for code, name, lead, components in DRAFTS:
        bundle_save(
            code=code,
            name=name,
            division=division,
            lead_department=departments[lead],
            items=[],
            dependencies=[],
            actor="system:seed",
            description=f"典型组成事项：{components}（待配置）",
            basis=BASIS,
            status=BundleStatus.DRAFT,
            is_synthetic=True,
        )
    return _staff_accounts(departments)


def _staff_accounts(departments: dict[str, Department]) -> list[DemoAccount]:
    accounts = []
    user_model = get_user_model()
    for key, department in departments.items():
        for suffix, roles, label in (
            ("clerk", [StaffRole.INTAKE], "受理"),
            ("reviewer", [StaffRole.REVIEW, StaffRole.DECISION], "审查/决定"),
        ):
            username = f"bd-{key}-{suffix}"
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
                    f"一件事 {label} {department.name}",
                    username,
                    STAFF_PASSWORD,
                    "TOTP: tongban totp " + username,
                )
            )
    return accounts
