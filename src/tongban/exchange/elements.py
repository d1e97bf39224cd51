"""The built-in resource catalog (资源目录): registries and their data elements.

Classification (GB/T 43697-2024 grades, applied to personal and enterprise data):
- general (一般): answered in plain — birth date, gender, public enterprise registration data;
- important (重要): masked (core.masking) unless the grant records that the purpose needs the
  plain value — name, ID number, household address, legal representative; or withheld entirely
  (answerable by verification only) where no partial form is meaningful — marital status,
  social security status;
- core (核心): never answered, verification (yes/no) only.
Freshness promises are the registries' update cycles: population and legal entities daily,
social security monthly, the licence library hourly.
"""

from __future__ import annotations

from typing import Any

REGISTRIES: list[dict[str, Any]] = [
    {"code": "population", "name": "人口库", "kind": "database", "subject_type": "person"},
    {"code": "legal_entity", "name": "法人库", "kind": "database", "subject_type": "enterprise"},
    {"code": "social_security", "name": "社保库", "kind": "database", "subject_type": "person"},
    {"code": "license_library", "name": "电子证照库", "kind": "provider", "subject_type": "person"},
]

# code, name, registry, level, mask kind, freshness (hours)
ELEMENTS: list[tuple[str, str, str, str, str, int]] = [
    ("person.name", "姓名", "population", "important", "name", 24),
    ("person.id_number", "公民身份号码", "population", "important", "id_number", 24),
    ("person.birth_date", "出生日期", "population", "general", "", 24),
    ("person.gender", "性别", "population", "general", "", 24),
    ("person.household_address", "户籍地址", "population", "important", "address", 24),
    ("person.marital_status", "婚姻状况", "population", "important", "withhold", 24),
    ("enterprise.uscc", "统一社会信用代码", "legal_entity", "general", "", 24),
    ("enterprise.name", "企业名称", "legal_entity", "general", "", 24),
    ("enterprise.legal_representative", "法定代表人", "legal_entity", "important", "name", 24),
    ("enterprise.registered_capital", "注册资本（万元）", "legal_entity", "general", "", 24),
    ("enterprise.industry_code", "行业代码（GB/T 4754）", "legal_entity", "general", "", 24),
    ("enterprise.status", "登记状态", "legal_entity", "general", "", 24),
    (
        "person.social_security_status",
        "养老保险参保状态",
        "social_security",
        "important",
        "withhold",
        720,
    ),
    ("person.insured_since", "参保日期", "social_security", "important", "withhold", 720),
    (
        "license.mandarin_certificate",
        "普通话水平测试等级证书",
        "license_library",
        "important",
        "withhold",
        1,
    ),
    (
        "license.teacher_qualification",
        "教师资格考试合格证明",
        "license_library",
        "important",
        "withhold",
        1,
    ),
]
