from __future__ import annotations

from typing import Any

from ninja import Field, Schema


class MaterialOut(Schema):
    code: str
    name: str
    material_type: str
    is_mandatory: bool
    replaceable_by_shared_data: bool


class ItemSummaryOut(Schema):
    implementation_code: str
    catalog_code: str
    name: str
    item_type: str
    department: str
    division: str
    committed_limit_days: int
    legal_limit_days: int
    online_depth: int
    cross_province: bool
    version: int

    # Resolvers read the published version, so a list never shows unpublished edits.
    @staticmethod
    def resolve_name(item: Any) -> str:
        return item.current_version.name if hasattr(item, "current_version") else item["name"]

    @staticmethod
    def resolve_item_type(item: Any) -> str:
        return (
            item.current_version.item_type
            if hasattr(item, "current_version")
            else item["item_type"]
        )

    @staticmethod
    def resolve_department(item: Any) -> str:
        return item.department.name if hasattr(item, "department") else item["department"]

    @staticmethod
    def resolve_division(item: Any) -> str:
        return item.division_id if hasattr(item, "division_id") else item["division"]

    @staticmethod
    def resolve_committed_limit_days(item: Any) -> int:
        return (
            item.current_version.committed_limit_days
            if hasattr(item, "current_version")
            else item["committed_limit_days"]
        )

    @staticmethod
    def resolve_legal_limit_days(item: Any) -> int:
        return (
            item.current_version.legal_limit_days
            if hasattr(item, "current_version")
            else item["legal_limit_days"]
        )

    @staticmethod
    def resolve_online_depth(item: Any) -> int:
        return (
            item.current_version.online_depth
            if hasattr(item, "current_version")
            else item["online_depth"]
        )

    @staticmethod
    def resolve_cross_province(item: Any) -> bool:
        return (
            item.current_version.cross_province
            if hasattr(item, "current_version")
            else item["cross_province"]
        )

    @staticmethod
    def resolve_version(item: Any) -> int:
        return item.current_version.number if hasattr(item, "current_version") else item["version"]


class ItemOut(ItemSummaryOut):
    legal_basis: str
    conditions: str
    fee: str
    visits_required: int
    service_objects: list[str]
    themes: list[str]
    consult_phone: str
    handle_location: str
    materials: list[MaterialOut]
    form_schema: dict[str, Any]


# ---- bundles (一件事) ----


class BundlePartOut(Schema):
    position: int
    item_code: str
    name: str
    department: str
    committed_limit_days: int
    needs: list[int] = Field(description="前序事项的 position")
    on_critical_path: bool
    condition: dict[str, list[str]] = Field(
        description="情形条件：问题编码 → 适用的回答；空对象表示总是办理"
    )


class BundleQuestionOut(Schema):
    code: str = Field(description="情形问题编码：查询时以 answer=<编码>:<回答> 传入")
    text: str
    kind: str = Field(description="yes_no（是/否）或 choice（单选）")
    choices: list[str]


class BundleExcludedOut(Schema):
    position: int
    item_code: str
    name: str


class BundleDependencyOut(Schema):
    upstream: int = Field(description="前序事项的 position")
    downstream: int
    outputs: list[str] = Field(description="前序事项结果提供给后续事项的数据元")


class BundleMaterialOut(Schema):
    code: str = Field(description="一件事内的材料编码 (B01…)，提交时使用")
    name: str
    material_type: str
    is_mandatory: bool
    used_by: list[int] = Field(description="需要本材料的事项 position：上传一次，共用")


class BundleSummaryOut(Schema):
    code: str
    name: str
    description: str
    basis: str
    division: str
    lead_department: str
    item_count: int
    promised_days: int = Field(description="承诺时限：依赖关系上承诺时限的最长路径（工作日）")
    separate_days: int = Field(description="分别办理的承诺时限之和（工作日）")
    is_synthetic: bool


class BundleOut(BundleSummaryOut):
    questions: list[BundleQuestionOut] = Field(description="情形引导问题（按顺序）")
    situation: dict[str, str] = Field(description="本次查询所按的回答；为空时列出全部事项")
    not_applicable: list[BundleExcludedOut] = Field(description="按回答无需办理的事项")
    parts: list[BundlePartOut]
    dependencies: list[BundleDependencyOut]
    materials: list[BundleMaterialOut]
    form_schema: dict[str, Any] = Field(
        description="合并申请表：每个数据元只问一次；无数据元的字段按事项区分 (item<n>__<字段>)"
    )
