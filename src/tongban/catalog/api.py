from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Path, Query, Router, Schema
from ninja.pagination import paginate

from tongban.core.schemas import NO_NUL, Pagination, error_responses, text

from . import errors
from .bundles import bundle_form, bundle_get, bundles_list, situation_answers
from .models import Bundle, ServiceItem
from .schemas import BundleOut, BundleSummaryOut, ItemOut, ItemSummaryOut, MaterialOut
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


# ---- bundles (一件事) ----


def bundle_out(
    bundle: Bundle, *, detail: bool, answers: dict[str, str] | None = None
) -> dict[str, Any]:
    form = bundle_form(bundle, answers=answers)
    positions = {part.bundle_item_id: part.position for part in form.parts}
    summary = {
        "code": bundle.code,
        "name": bundle.name,
        "description": bundle.description,
        "basis": bundle.basis,
        "division": bundle.division_id,
        "lead_department": bundle.lead_department.name,
        "item_count": len(form.parts),
        "promised_days": form.critical.promised_days,
        "separate_days": form.critical.separate_days,
        "is_synthetic": bundle.is_synthetic,
    }
    if not detail:
        return summary
    critical = set(form.critical.path)
    conditions = {row.pk: row.condition or {} for row in bundle.items.all()}
    return {
        **summary,
        "questions": [
            {
                "code": question.code,
                "text": question.text,
                "kind": question.kind,
                "choices": list(question.choices),
            }
            for question in bundle.questions.all()
        ],
        "situation": dict(answers or {}),
        "not_applicable": [
            {"position": part.position, "item_code": part.item_code, "name": part.name}
            for part in form.excluded
        ],
        "parts": [
            {
                "position": part.position,
                "item_code": part.item_code,
                "name": part.name,
                "department": part.department,
                "committed_limit_days": part.committed_limit_days,
                "needs": [positions[n] for n in part.needs if n in positions],
                "on_critical_path": part.bundle_item_id in critical,
                "condition": conditions.get(part.bundle_item_id, {}),
            }
            for part in form.parts
        ],
        "dependencies": [
            {
                "upstream": positions[d.upstream_id],
                "downstream": positions[d.downstream_id],
                "outputs": d.outputs,
            }
            for d in bundle.dependencies.all()
            if d.upstream_id in positions and d.downstream_id in positions
        ],
        "materials": [
            {
                "code": m.code,
                "name": m.name,
                "material_type": m.material_type,
                "is_mandatory": m.is_mandatory,
                "used_by": [positions[item_id] for item_id, _ in m.uses],
            }
            for m in form.materials
        ],
        "form_schema": form.schema,
    }


class BundleFilters(Schema):
    region: str | None = text(12, None, description="区划代码（含下级）")


@router.get(
    "/bundles", response={200: list[BundleSummaryOut], **error_responses(404, 422)}, auth=None
)
@paginate(Pagination)
def bundle_list(request: HttpRequest, filters: Query[BundleFilters]) -> list[dict[str, Any]]:
    """一件事目录（已发布），含承诺时限（关键路径）与分别办理时限之和。"""
    return [bundle_out(b, detail=False) for b in bundles_list(region=filters.region)]


class BundleSituationQuery(Schema):
    answer: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="情形引导的回答，每项 <问题编码>:<回答>，如 answer=social_card:是；"
        "给出时须回答全部问题，结果只含适用的事项",
    )


def _answers(bundle: Bundle, raw: list[str]) -> dict[str, str] | None:
    if not raw:
        return None
    pairs: dict[str, str] = {}
    for entry in raw:
        code, separator, value = entry.partition(":")
        if not separator or not code.strip() or len(entry) > 200:
            raise errors.SITUATION_INVALID.error(
                fields={"answer": _("回答格式应为 <问题编码>:<回答>")}
            )
        pairs[code.strip()] = value.strip()
    return situation_answers(bundle, pairs)


@router.get("/bundles/{code}", response={200: BundleOut, **error_responses(404, 422)}, auth=None)
def bundle_detail(
    request: HttpRequest,
    situation: Query[BundleSituationQuery],
    code: str = Path(..., max_length=40, pattern=NO_NUL),
) -> dict[str, Any]:
    """一件事办事指南：情形引导问题、组成事项、依赖关系、合并申请表与共用材料。
    带上回答（answer=编码:回答）时，只列按情形适用的事项，承诺时限按其关键路径重算。"""
    bundle = bundle_get(code=code)
    return bundle_out(bundle, detail=True, answers=_answers(bundle, situation.answer))
