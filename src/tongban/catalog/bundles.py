"""一件事一次办: bundles of catalog items — saving (no cycles), the merged form, shared
materials and the critical path.

The data elements (数据元) are one vocabulary: the registry-backed elements of
`exchange/elements.py` (`person.*`, `enterprise.*`, `license.*`) plus the bundle-level elements
below, which no registry holds: what the applicant states once for several departments
(`child.birth_date`, `guardian.id_number`) and what one item's result supplies to another
(`child.birth_certificate_number`). A form field carries its element as `x-element`; a bundle
asks each element once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from tongban.core.audit import audit_record_append
from tongban.core.models import Division
from tongban.identity.models import Department

from . import errors
from .formschema import ELEMENT_CODE_PATTERN
from .models import (
    YES_NO_OPTIONS,
    Bundle,
    BundleDependency,
    BundleItem,
    BundleQuestion,
    BundleStatus,
    ServiceItem,
    ServiceItemVersion,
    SituationKind,
)

# code → (name, kind). kind "input": stated by the applicant once; "result": supplied by an
# item's result (its value is the number of the document the upstream case issued).
BUNDLE_ELEMENTS: dict[str, tuple[str, str]] = {
    "child.name": ("新生儿姓名", "input"),
    "child.gender": ("新生儿性别", "input"),
    "child.birth_date": ("新生儿出生日期", "input"),
    "child.birth_place": ("出生地点", "input"),
    "child.birth_certificate_number": ("出生医学证明编号", "result"),
    "child.household_registration_number": ("户口登记编号", "result"),
    "child.medical_insurance_number": ("医保参保登记编号", "result"),
    "guardian.name": ("监护人姓名", "input"),
    "guardian.id_number": ("监护人公民身份号码", "input"),
    "guardian.relationship": ("与新生儿关系", "input"),
    "contact.phone": ("联系电话", "input"),
    "contact.address": ("联系地址", "input"),
    "business.name": ("店铺（企业）名称", "input"),
    "business.address": ("经营场所地址", "input"),
    "business.scope": ("经营范围", "input"),
    "business.operator_id_number": ("经营者公民身份号码", "input"),
    "business.license_number": ("营业执照登记编号", "result"),
    "business.food_license_number": ("食品经营许可证编号", "result"),
    "enterprise.tax_clearance_number": ("清税证明编号", "result"),
    "enterprise.deregistration_reason": ("注销原因", "input"),
    "retiree.retirement_date": ("退休日期", "input"),
    "retiree.pension_approval_number": ("退休审批编号", "result"),
    "deceased.name": ("逝者姓名", "input"),
    "deceased.id_number": ("逝者公民身份号码", "input"),
    "deceased.death_date": ("死亡日期", "input"),
    "deceased.death_certificate_number": ("死亡医学证明编号", "result"),
    "deceased.household_cancellation_number": ("户口注销编号", "result"),
}
RESULT_ELEMENTS = frozenset(code for code, (_, kind) in BUNDLE_ELEMENTS.items() if kind == "result")


# ---------------------------------------------------------------- the dependency graph


def dependency_cycle(nodes: list[Any], edges: list[tuple[Any, Any]]) -> list[Any] | None:
    """A cycle in the graph (as a list of nodes, first repeated last), or None."""
    successors: dict[Any, list[Any]] = defaultdict(list)
    for upstream, downstream in edges:
        successors[upstream].append(downstream)
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(nodes, white)
    stack_path: list[Any] = []

    def visit(node: Any) -> list[Any] | None:
        colour[node] = grey
        stack_path.append(node)
        for following in successors[node]:
            if colour.get(following, white) == grey:
                return [*stack_path[stack_path.index(following) :], following]
            if colour.get(following, white) == white:
                found = visit(following)
                if found:
                    return found
        stack_path.pop()
        colour[node] = black
        return None

    for node in nodes:
        if colour[node] == white and (found := visit(node)):
            return found
    return None


@dataclass(frozen=True)
class CriticalPath:
    """承诺时限: the longest chain of committed limits through the dependency graph."""

    promised_days: int  # the bundle's promised time (working days)
    separate_days: int  # the sum of the items' committed limits, applied for one by one
    path: list[Any]  # the nodes of the longest chain, in order


def critical_path(days: dict[Any, int], edges: list[tuple[Any, Any]]) -> CriticalPath:
    """Longest path by committed working days; the graph must be acyclic."""
    predecessors: dict[Any, list[Any]] = defaultdict(list)
    for upstream, downstream in edges:
        predecessors[downstream].append(upstream)
    finish: dict[Any, int] = {}
    via: dict[Any, Any] = {}

    def finish_of(node: Any) -> int:
        if node not in finish:
            best = None
            for before in predecessors[node]:
                if best is None or finish_of(before) > finish_of(best):
                    best = before
            via[node] = best
            finish[node] = days[node] + (finish_of(best) if best is not None else 0)
        return finish[node]

    if not days:
        return CriticalPath(0, 0, [])
    last = max(days, key=finish_of)
    path = [last]
    while via.get(path[0]) is not None:
        path.insert(0, via[path[0]])
    return CriticalPath(finish[last], sum(days.values()), path)


# ---------------------------------------------------------------- 情形引导 (situations)

QUESTION_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
# The prefix of a situation answer in a posted web form: situation__<question code>.
SITUATION_FIELD_PREFIX = "situation__"


@dataclass(frozen=True)
class QuestionSpec:
    """A situation question: yes/no (是/否) or one choice among `options`."""

    code: str
    text: str
    kind: str = SituationKind.YES_NO
    options: tuple[str, ...] = ()

    @property
    def choices(self) -> tuple[str, ...]:
        return YES_NO_OPTIONS if self.kind == SituationKind.YES_NO else tuple(self.options)


Condition = dict[str, list[str]]  # question code → the answers under which an item applies


def questions_check(questions: list[QuestionSpec]) -> None:
    """Refuse a malformed question list (codes, duplicate codes, choice options)."""
    seen: set[str] = set()
    for question in questions:
        if not re.match(QUESTION_CODE_PATTERN, question.code or ""):
            raise errors.BUNDLE_QUESTION_CODE_INVALID.error(code=question.code)
        if question.code in seen:
            raise errors.BUNDLE_QUESTION_CODE_DUPLICATE.error(code=question.code)
        seen.add(question.code)
        if not question.text.strip():
            raise errors.BUNDLE_QUESTION_TEXT_MISSING.error(code=question.code)
        if question.kind == SituationKind.YES_NO:
            if question.options:
                raise errors.BUNDLE_QUESTION_OPTIONS_UNEXPECTED.error(question=question.text)
        elif question.kind == SituationKind.CHOICE:
            options = [str(option).strip() for option in question.options]
            if len(options) < 2 or len(set(options)) != len(options) or not all(options):
                raise errors.BUNDLE_QUESTION_INVALID.error(question=question.text)
        else:
            raise errors.BUNDLE_QUESTION_KIND_INVALID.error(kind=question.kind)


def conditions_check(
    questions: list[QuestionSpec],
    names: list[str],
    conditions: list[Any],
    edges: list[tuple[int, int]],
) -> list[Condition]:
    """Refuse conditions that name a missing question or option, and conditions that could
    include an item while excluding an item it depends on; returns the conditions cleaned.

    ADR 0012: a dependency must hold in every situation, so an item's condition must imply
    the conditions of every item it depends on (else the dependant could start without the
    result it waits for). Conditions are conjunctions of "answer ∈ options", so the
    implication is exact per question: each question the upstream restricts must be
    restricted at least as tightly by the downstream.
    """
    choices = {question.code: question.choices for question in questions}
    cleaned: list[Condition] = []
    for name, condition in zip(names, conditions, strict=True):
        condition = condition or {}
        if not isinstance(condition, dict):
            raise errors.BUNDLE_CONDITION_NOT_OBJECT.error(item=name)
        clean: Condition = {}
        for code, allowed in condition.items():
            if code not in choices:
                raise errors.BUNDLE_CONDITION_UNKNOWN_QUESTION.error(item=name, question=code)
            if isinstance(allowed, str):
                allowed = [allowed]
            if not isinstance(allowed, list) or not allowed:
                raise errors.BUNDLE_CONDITION_NO_OPTIONS.error(item=name, question=code)
            unknown = [str(option) for option in allowed if option not in choices[code]]
            if unknown:
                raise errors.BUNDLE_CONDITION_INVALID.error(
                    item=name,
                    question=code,
                    unknown="、".join(unknown),
                    choices="、".join(choices[code]),
                )
            clean[code] = [option for option in choices[code] if option in allowed]
        cleaned.append(clean)
    for upstream, downstream in edges:
        if not condition_implies(cleaned[downstream], cleaned[upstream], choices):
            raise errors.BUNDLE_CONDITION_INCONSISTENT.error(
                downstream=names[downstream], upstream=names[upstream]
            )
    return cleaned


def condition_implies(
    stronger: Condition, weaker: Condition, choices: dict[str, tuple[str, ...]]
) -> bool:
    """True when every situation satisfying `stronger` satisfies `weaker`."""
    for code, allowed in weaker.items():
        if set(choices.get(code, ())) <= set(allowed):
            continue  # every answer allowed: no restriction
        if code not in stronger or not set(stronger[code]) <= set(allowed):
            return False
    return True


def condition_holds(condition: Condition, answers: dict[str, str]) -> bool:
    return all(answers.get(code) in allowed for code, allowed in (condition or {}).items())


def situation_answers(bundle: Bundle, raw: Any) -> dict[str, str]:
    """The applicant's answers checked against the bundle's questions: every question
    answered with one of its options, nothing else. Errors under `situation__<code>`."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise errors.SITUATION_INVALID.error(fields={"situation": _("情形引导的回答应为对象")})
    questions = list(bundle.questions.all())
    known = {question.code for question in questions}
    problems: dict[str, Any] = {}
    if any(code not in known for code in raw):
        problems["situation"] = _("回答中含有本一件事没有的情形问题")
    answers: dict[str, str] = {}
    for question in questions:
        value = raw.get(question.code)
        if value in (None, ""):
            problems[f"{SITUATION_FIELD_PREFIX}{question.code}"] = _("请回答“%(question)s”") % {
                "question": question.text
            }
        elif value not in question.choices:
            problems[f"{SITUATION_FIELD_PREFIX}{question.code}"] = _(
                "“%(question)s”的回答应为：%(choices)s"
            ) % {"question": question.text, "choices": "、".join(question.choices)}
        else:
            answers[question.code] = str(value)
    if problems:
        raise errors.SITUATION_INVALID.error(fields=problems)
    return answers


def situation_selection(bundle: Bundle, answers: dict[str, str]) -> set[int]:
    """The bundle_item ids that apply in the applicant's situation (computed here, on the
    server, from the answers — never taken from the client)."""
    return {row.pk for row in bundle.items.all() if condition_holds(row.condition, answers)}


# ---------------------------------------------------------------- saving


@dataclass(frozen=True)
class DependencySpec:
    """`downstream` (an index into the items) needs the result of `upstream`."""

    upstream: int
    downstream: int
    outputs: tuple[str, ...] = ()


def _form_elements(version: ServiceItemVersion) -> set[str]:
    return {
        spec["x-element"]
        for spec in version.form_schema.get("properties", {}).values()
        if spec.get("x-element")
    }


def dependencies_check(items: list[ServiceItem], dependencies: list[DependencySpec]) -> None:
    """Refuse a dependency graph that has a cycle, or outputs that cannot flow."""
    names = [item.name for item in items]
    edges = []
    for dependency in dependencies:
        if not (0 <= dependency.upstream < len(items) and 0 <= dependency.downstream < len(items)):
            raise errors.BUNDLE_DEPENDENCY_INVALID.error()
        if dependency.upstream == dependency.downstream:
            raise errors.BUNDLE_DEPENDENCY_SELF.error(item=names[dependency.upstream])
        edges.append((dependency.upstream, dependency.downstream))
    cycle = dependency_cycle(list(range(len(items))), edges)
    if cycle:
        raise errors.BUNDLE_CYCLE.error(path=" → ".join(names[i] for i in cycle))
    for dependency in dependencies:
        upstream, downstream = items[dependency.upstream], items[dependency.downstream]
        for element in dependency.outputs:
            if not re.match(ELEMENT_CODE_PATTERN, element):
                raise errors.BUNDLE_OUTPUT_CODE_INVALID.error(element=element)
            if downstream.current_version is None or element not in _form_elements(
                downstream.current_version
            ):
                raise errors.BUNDLE_OUTPUT_INVALID.error(item=downstream.name, element=element)
            upstream_elements = (
                _form_elements(upstream.current_version) if upstream.current_version else set()
            )
            if element not in RESULT_ELEMENTS and element not in upstream_elements:
                raise errors.BUNDLE_OUTPUT_UNAVAILABLE.error(item=upstream.name, element=element)


@transaction.atomic
def bundle_save(
    *,
    code: str,
    name: str,
    division: Division,
    lead_department: Department,
    items: list[ServiceItem],
    dependencies: list[DependencySpec],
    actor: str,
    description: str = "",
    basis: str = "",
    status: str = BundleStatus.PUBLISHED,
    is_synthetic: bool = False,
    questions: list[QuestionSpec] | None = None,
    conditions: list[Condition] | None = None,
) -> Bundle:
    """Create or replace the bundle `code` with these items, dependencies and situation
    questions (`conditions[i]` is the condition of `items[i]`; none = always included).

    Refused (and nothing saved) when the dependencies form a cycle, an item appears twice or
    is unpublished, an output cannot flow into the dependant's form, a condition names a
    missing question or option, or an item could apply without an item it depends on.
    """
    questions = list(questions or [])
    if conditions is not None and len(conditions) != len(items):
        raise errors.BUNDLE_CONDITION_COUNT.error()
    if not items and status == BundleStatus.PUBLISHED:
        raise errors.BUNDLE_EMPTY.error()
    if len({item.pk for item in items}) != len(items):
        raise errors.BUNDLE_ITEM_DUPLICATE.error()
    unpublished = [item.name for item in items if item.current_version_id is None]
    if unpublished:
        raise errors.BUNDLE_ITEM_UNPUBLISHED.error(items="、".join(unpublished))
    dependencies_check(items, dependencies)
    questions_check(questions)
    cleaned_conditions = conditions_check(
        questions,
        [item.name for item in items],
        list(conditions) if conditions is not None else [{}] * len(items),
        [(d.upstream, d.downstream) for d in dependencies],
    )
    bundle, _created = Bundle.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "description": description,
            "basis": basis,
            "division": division,
            "lead_department": lead_department,
            "status": status,
            "is_synthetic": is_synthetic,
        },
    )
    existing = {row.item_id: row for row in bundle.items.all()}
    rows = []
    for order, (item, condition) in enumerate(zip(items, cleaned_conditions, strict=True), 1):
        row = existing.pop(item.pk, None)
        if row is None:
            row = BundleItem.objects.create(
                bundle=bundle, item=item, order=order, condition=condition
            )
        elif row.order != order or row.condition != condition:
            row.order = order
            row.condition = condition
            row.save(update_fields=["order", "condition"])
        rows.append(row)
    bundle.questions.all().delete()
    BundleQuestion.objects.bulk_create(
        BundleQuestion(
            bundle=bundle,
            code=question.code,
            text=question.text,
            kind=question.kind,
            options=list(question.options),
            order=order,
        )
        for order, question in enumerate(questions, start=1)
    )
    bundle.dependencies.all().delete()
    for row in existing.values():
        row.delete()
    BundleDependency.objects.bulk_create(
        BundleDependency(
            bundle=bundle,
            upstream=rows[dependency.upstream],
            downstream=rows[dependency.downstream],
            outputs=list(dependency.outputs),
        )
        for dependency in dependencies
    )
    audit_record_append(
        actor=actor,
        action="catalog.bundle.save",
        object_type="bundle",
        object_id=code,
        detail={
            "items": len(items),
            "dependencies": len(dependencies),
            "questions": len(questions),
        },
    )
    return bundle


# ---------------------------------------------------------------- reads


def bundles_list(*, region: str | None = None) -> QuerySet[Bundle]:
    bundles = Bundle.objects.filter(status=BundleStatus.PUBLISHED).select_related(
        "division", "lead_department"
    )
    if region:
        division = Division.objects.filter(code=region).first()
        if division is None:
            raise errors.REGION_NOT_FOUND.error(region=region)
        bundles = bundles.filter(division__code__startswith=division.subtree_prefix)
    return bundles.prefetch_related(
        Prefetch(
            "items",
            queryset=BundleItem.objects.select_related(
                "item__current_version", "item__department"
            ).order_by("order", "id"),
        ),
        "dependencies",
        "questions",
    )


def bundle_get(*, code: str) -> Bundle:
    bundle = bundles_list().filter(code=code).first()
    if bundle is None:
        raise errors.BUNDLE_NOT_FOUND.error(code=code)
    return bundle


# ---------------------------------------------------------------- the merged form


@dataclass(frozen=True)
class Part:
    """One item of a bundle as the applicant meets it."""

    bundle_item_id: int
    position: int
    item_code: str
    name: str
    department: str
    committed_limit_days: int
    version: ServiceItemVersion
    needs: tuple[int, ...]  # bundle_item ids whose results this part waits for
    supplied: dict[str, int]  # element → the upstream bundle_item id that supplies it


@dataclass
class MergedMaterial:
    code: str  # B01, B02… within the bundle
    name: str
    material_type: str
    is_mandatory: bool
    elements: list[str]
    # (bundle_item_id, the item's own material code) for every item that needs it
    uses: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class BundleForm:
    """The bundle's single form: each element asked once; fields without an element stay per
    item, named `item<position>__<field>`; each material asked once (matched by its data
    elements, else by name)."""

    parts: list[Part]
    schema: dict[str, Any]
    # bundle_item_id → {the item's field name → the merged field name}
    field_map: dict[int, dict[str, str]]
    materials: list[MergedMaterial]
    critical: CriticalPath
    # 情形引导: the items that do not apply in the applicant's situation, and the answers
    excluded: list[Part] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)

    def part(self, bundle_item_id: int) -> Part:
        return next(part for part in self.parts if part.bundle_item_id == bundle_item_id)


def _material_key(material: dict[str, Any]) -> str:
    elements = material.get("elements") or []
    return "e:" + ",".join(sorted(elements)) if elements else "n:" + material["name"].strip()


def bundle_form(
    bundle: Bundle,
    *,
    answers: dict[str, str] | None = None,
    included: set[int] | None = None,
) -> BundleForm:
    """Build the merged form from the items' current versions (items prefetched).

    With `answers` (情形引导) only the items whose condition holds are part of it, and the
    critical path is that selection's; `included` names the bundle_item ids directly (a
    bundle case's children). Field names (`item<n>__…`, n = the item's place in the whole
    bundle) and material codes (B01…, numbered over the whole bundle) do not depend on the
    selection, so an API client's codes stay stable.
    """
    rows = list(bundle.items.all())
    if included is None and answers is not None:
        included = situation_selection(bundle, answers)
    chosen = {row.pk for row in rows} if included is None else set(included)
    # Refused at save (conditions_check); should old data still break it, a dependency on
    # an excluded item counts as satisfied and its outputs are asked of the applicant.
    dependencies = [
        d
        for d in bundle.dependencies.all()
        if d.upstream_id in chosen and d.downstream_id in chosen
    ]
    all_parts: list[Part] = []
    for position, row in enumerate(rows, start=1):
        version = row.item.current_version
        assert version is not None  # bundle_save refuses unpublished items
        supplied = {
            element: dependency.upstream_id
            for dependency in dependencies
            if dependency.downstream_id == row.pk
            for element in dependency.outputs
        }
        needs = tuple(d.upstream_id for d in dependencies if d.downstream_id == row.pk)
        all_parts.append(
            Part(
                bundle_item_id=row.pk,
                position=position,
                item_code=row.item.implementation_code,
                name=version.name,
                department=row.item.department.name,
                committed_limit_days=version.committed_limit_days,
                version=version,
                needs=needs,
                supplied=supplied,
            )
        )
    parts = [part for part in all_parts if part.bundle_item_id in chosen]
    properties: dict[str, Any] = {}
    required: list[str] = []
    field_map: dict[int, dict[str, str]] = {}
    for part in parts:
        schema = part.version.form_schema
        own_required = set(schema.get("required", []))
        mapping: dict[str, str] = {}
        for name, spec in schema["properties"].items():
            element = spec.get("x-element", "")
            merged = element if element else f"item{part.position}__{name}"
            mapping[name] = merged
            if element in part.supplied:
                continue  # filled from the upstream item's result, not asked
            if merged not in properties:
                title = spec["title"] if element else f"{spec['title']}（{part.name}）"
                properties[merged] = {**spec, "title": title}
            if name in own_required and merged not in required:
                required.append(merged)
        field_map[part.bundle_item_id] = mapping
    codes: dict[str, str] = {}
    for part in all_parts:
        for material in part.version.materials:
            codes.setdefault(_material_key(material), f"B{len(codes) + 1:02d}")
    materials: dict[str, MergedMaterial] = {}
    for part in parts:
        for material in part.version.materials:
            key = _material_key(material)
            if key not in materials:
                materials[key] = MergedMaterial(
                    code=codes[key],
                    name=material["name"],
                    material_type=material.get("material_type", "3"),
                    is_mandatory=False,
                    elements=list(material.get("elements", [])),
                )
            merged_material = materials[key]
            merged_material.is_mandatory = merged_material.is_mandatory or material["is_mandatory"]
            merged_material.uses.append((part.bundle_item_id, material["code"]))
    critical = critical_path(
        {part.bundle_item_id: part.committed_limit_days for part in parts},
        [(d.upstream_id, d.downstream_id) for d in dependencies],
    )
    return BundleForm(
        parts=parts,
        schema={
            "type": "object",
            "title": bundle.name,
            "required": required,
            "properties": properties,
        },
        field_map=field_map,
        materials=sorted(materials.values(), key=lambda m: m.code),
        critical=critical,
        excluded=[part for part in all_parts if part.bundle_item_id not in chosen],
        answers=dict(answers or {}),
    )
