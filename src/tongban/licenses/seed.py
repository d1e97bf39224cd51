"""Seed licence types and the demo catalog's issuance rules (idempotent).

Type names, defining bodies, holder kinds and 照面信息 follow the real licences. The type
codes are SYNTHETIC: the national catalog's codes (USCC of the defining body + 3 digits) are
not published in a form we could check, so each code here is a made-up USCC "11100000MB99…"
with a valid GB 32100 check character plus a sequence, and the type is marked
`is_synthetic`. Replace them with the national codes before production use.
"""

from __future__ import annotations

from typing import Any

from tongban.core.ids import uscc_checksum


def _synthetic_type_code(body_number: int, sequence: int) -> str:
    first17 = f"11100000MB99{body_number:05d}"
    return f"{first17}{uscc_checksum(first17)}{sequence:03d}"


def _fields(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "title": title} for name, title in pairs]


LICENSE_TYPES: list[dict[str, Any]] = [
    {
        "code": _synthetic_type_code(101, 1),
        "name": "营业执照",
        "defining_department_name": "国家市场监督管理总局",
        "holder_kind": "enterprise",
        "validity_years": 0,
        "face_schema": _fields(
            ("company_name", "名称"),
            ("company_type", "类型"),
            ("legal_representative", "法定代表人"),
            ("registered_capital", "注册资本（万元）"),
            ("established_on", "成立日期"),
            ("business_scope", "经营范围"),
            ("residence", "住所"),
        ),
    },
    {
        "code": _synthetic_type_code(102, 1),
        "name": "出生医学证明",
        "defining_department_name": "国家卫生健康委员会",
        "holder_kind": "citizen",
        "validity_years": 0,
        "face_schema": _fields(
            ("newborn_name", "新生儿姓名"),
            ("sex", "性别"),
            ("birth_date", "出生日期"),
            ("birth_place", "出生地点"),
            ("mother_name", "母亲姓名"),
            ("father_name", "父亲姓名"),
            ("institution", "接生机构"),
        ),
    },
    {
        "code": _synthetic_type_code(103, 1),
        "name": "户口簿（户籍证明）",
        "defining_department_name": "中华人民共和国公安部",
        "holder_kind": "citizen",
        "validity_years": 1,
        "face_schema": _fields(
            ("name", "姓名"),
            ("move_reason", "迁移原因"),
            ("to_address", "迁入地址"),
            ("moving_date", "迁移日期"),
        ),
    },
    {
        "code": _synthetic_type_code(104, 1),
        "name": "结婚证",
        "defining_department_name": "中华人民共和国民政部",
        "holder_kind": "citizen",
        "validity_years": 0,
        "face_schema": _fields(
            ("holder_name", "持证人"),
            ("spouse_name", "配偶姓名"),
            ("registered_on", "登记日期"),
            ("registry", "登记机关"),
        ),
    },
    {
        "code": _synthetic_type_code(105, 1),
        "name": "不动产权证书",
        "defining_department_name": "中华人民共和国自然资源部",
        "holder_kind": "citizen",
        "validity_years": 0,
        "face_schema": _fields(
            ("right_holder", "权利人"),
            ("co_ownership", "共有情况"),
            ("location", "坐落"),
            ("unit_number", "不动产单元号"),
            ("right_type", "权利类型"),
            ("use", "用途"),
            ("area", "面积"),
        ),
    },
    {
        "code": _synthetic_type_code(106, 1),
        "name": "教师资格证书",
        "defining_department_name": "中华人民共和国教育部",
        "holder_kind": "citizen",
        "validity_years": 0,
        "face_schema": _fields(
            ("holder_name", "姓名"),
            ("qualification_type", "资格种类"),
            ("teaching_subject", "任教学科"),
        ),
    },
    {
        "code": _synthetic_type_code(107, 1),
        "name": "中华人民共和国残疾人证",
        "defining_department_name": "中国残疾人联合会",
        "holder_kind": "citizen",
        "validity_years": 10,
        "face_schema": _fields(
            ("holder_name", "姓名"),
            ("disability_category", "残疾类别"),
            ("residence_address", "住址"),
        ),
    },
    {
        "code": _synthetic_type_code(109, 1),
        "name": "普通话水平测试等级证书",
        "defining_department_name": "国家语言文字工作委员会",
        "holder_kind": "citizen",
        "validity_years": 0,
        "face_schema": _fields(
            ("holder_name", "姓名"),
            ("grade", "等级"),
            ("test_center", "测试机构"),
        ),
    },
    {
        "code": _synthetic_type_code(108, 1),
        "name": "执业药师注册证",
        "defining_department_name": "国家药品监督管理局",
        "holder_kind": "citizen",
        "validity_years": 5,
        "face_schema": _fields(
            ("holder_name", "姓名"),
            ("employer_name", "执业单位"),
            ("practice_category", "执业类别"),
            ("practice_scope", "执业范围"),
        ),
    },
]

_BUSINESS_LICENSE = {
    "company_name": "company_name",
    "company_type": "=有限责任公司",
    "legal_representative": "@enterprise_legal_representative",
    "registered_capital": "registered_capital_10k_cny",
    "established_on": "@issued_on",
    "business_scope": "business_scope",
    "residence": "residence_address",
}
_HIGHER_EDUCATION_TEACHER = {
    "holder_name": "@applicant_name",
    "qualification_type": "=高等学校教师资格",
    "teaching_subject": "teaching_subject",
}
_DISABILITY = {
    "holder_name": "@applicant_name",
    "disability_category": "disability_category",
    "residence_address": "residence_address",
}

# implementation_code → (licence type name, face field → source). A source is a form field,
# a case fact "@applicant_name" / "@case_number" / "@item_name" / "@department_name" /
# "@issued_on" / "@enterprise_name" / "@enterprise_legal_representative", or a literal "=…".
ISSUANCES: dict[str, tuple[str, dict[str, str]]] = {
    # 内资有限责任公司设立登记 (广东省市场监督管理局; 杭州 synthetic adaptation)
    "11440000MB2D0234372440125017008": ("营业执照", _BUSINESS_LICENSE),
    "11330100MB990003XJ3440125017008": ("营业执照", _BUSINESS_LICENSE),
    # 户口迁出（人才集体户）→ 户籍证明
    "11440000553612461J2442111596003": (
        "户口簿（户籍证明）",
        {
            "name": "@applicant_name",
            "move_reason": "move_reason",
            "to_address": "to_address",
            "moving_date": "moving_date",
        },
    ),
    # 高等学校教师资格认定 (广东省教育厅; 浙江 synthetic adaptation)
    "11440000006940116U2440102013001": ("教师资格证书", _HIGHER_EDUCATION_TEACHER),
    "11330000MB9900048D2440102013001": ("教师资格证书", _HIGHER_EDUCATION_TEACHER),
    # 高级中学教师…资格认定 (广州市教育局)
    "11440100007482620J3440102013002": (
        "教师资格证书",
        {
            "holder_name": "@applicant_name",
            "qualification_type": "qualification_type",
            "teaching_subject": "teaching_subject",
        },
    ),
    # 《中华人民共和国残疾人证》新办证申请 (广东省残联; 浙江 synthetic adaptation)
    "13440000455857174Y2442169016000": ("中华人民共和国残疾人证", _DISABILITY),
    "13330000MB990005622442169016000": ("中华人民共和国残疾人证", _DISABILITY),
    # 执业药师首次注册 (广东省药品监督管理局)
    "11440000MB2D0344212440172027001": (
        "执业药师注册证",
        {
            "holder_name": "@applicant_name",
            "employer_name": "employer_name",
            "practice_category": "practice_category",
            "practice_scope": "practice_scope",
        },
    ),
}


def seed_rows(license_type_model: Any, issuance_model: Any) -> None:
    """Create or update the seeded rows (used by the data migration and `licenses_seed`)."""
    by_name = {}
    for spec in LICENSE_TYPES:
        defining_code = spec["code"][:18]
        row, _ = license_type_model.objects.update_or_create(
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "defining_department_name": spec["defining_department_name"],
                "defining_department_code": defining_code,
                "holder_kind": spec["holder_kind"],
                "validity_years": spec["validity_years"],
                "face_schema": spec["face_schema"],
                "is_synthetic": True,
            },
        )
        by_name[spec["name"]] = row
    for implementation_code, (type_name, mapping) in ISSUANCES.items():
        issuance_model.objects.update_or_create(
            implementation_code=implementation_code,
            defaults={"license_type": by_name[type_name], "field_mapping": mapping},
        )


def licenses_seed() -> None:
    """Seed licence types and issuance rules (idempotent; called by the demo seeding)."""
    from .models import LicenseIssuance, LicenseType

    seed_rows(LicenseType, LicenseIssuance)
