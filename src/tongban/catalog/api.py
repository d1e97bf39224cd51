from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.pagination import paginate

from tongban.core.schemas import NO_NUL, Pagination, error_responses, text

from .models import ServiceItem
from .schemas import ItemOut, ItemSummaryOut, MaterialOut
from .selectors import item_get, items_list

router = Router(tags=["catalog"])


class ItemFilters(Schema):
    region: str | None = text(12, None, description="区划代码（含下级）")
    q: str | None = text(100, None, description="关键词，空格分隔")
    theme: str | None = text(50, None)
    department: str | None = text(18, None, description="部门统一社会信用代码")


def _summary(item: ServiceItem) -> dict:
    version = item.current_version
    assert version is not None
    return {
        "implementation_code": item.implementation_code,
        "catalog_code": item.catalog_code,
        "name": version.name,
        "item_type": version.item_type,
        "department": item.department.name,
        "division": item.division_id,
        "committed_limit_days": version.committed_limit_days,
        "legal_limit_days": version.legal_limit_days,
        "online_depth": version.online_depth,
        "cross_province": version.cross_province,
        "version": version.number,
    }


@router.get("/items", response={200: list[ItemSummaryOut], **error_responses(404, 422)}, auth=None)
@paginate(Pagination)
def item_list(request: HttpRequest, filters: Query[ItemFilters]) -> QuerySet[ServiceItem]:
    """事项目录：按区划 (region，含下级)、关键词 (q)、主题、部门筛选。"""
    return items_list(
        region=filters.region, q=filters.q, theme=filters.theme, department=filters.department
    )


@router.get("/items/{code}", response={200: ItemOut, **error_responses(404, 422)}, auth=None)
def item_detail(request: HttpRequest, code: str = Path(..., max_length=31, pattern=NO_NUL)) -> dict:
    """办事指南：事项当前发布版本的完整信息。"""
    item = item_get(code=code)
    version = item.current_version
    assert version is not None
    return {
        **_summary(item),
        "legal_basis": version.legal_basis,
        "conditions": version.conditions,
        "fee": version.fee,
        "visits_required": version.visits_required,
        "service_objects": item.service_objects,
        "themes": item.themes,
        "consult_phone": item.consult_phone,
        "handle_location": item.handle_location,
        "materials": [MaterialOut(**m) for m in version.materials],
        "form_schema": version.form_schema,
    }
