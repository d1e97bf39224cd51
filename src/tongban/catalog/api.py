from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from tongban.core.schemas import error_responses

from .models import ServiceItem
from .schemas import ItemOut, ItemSummaryOut, MaterialOut
from .selectors import item_get, items_list

router = Router(tags=["catalog"])


class ItemFilters(Schema):
    region: str | None = None
    q: str | None = None
    theme: str | None = None
    department: str | None = None


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
@paginate(LimitOffsetPagination)
def item_list(request: HttpRequest, filters: Query[ItemFilters]) -> QuerySet[ServiceItem]:
    """事项目录：按区划 (region，含下级)、关键词 (q)、主题、部门筛选。"""
    return items_list(
        region=filters.region, q=filters.q, theme=filters.theme, department=filters.department
    )


@router.get("/items/{code}", response={200: ItemOut, **error_responses(404)}, auth=None)
def item_detail(request: HttpRequest, code: str) -> dict:
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
