"""Back office for catalog administrators, scoped to their region.

A staff member with the `admin` role sees and edits only items whose region lies inside their
scope; saving publishes a new version (cases in flight keep theirs).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tongban.core.admin import warn_missing_calendar
from tongban.core.errors import DomainError
from tongban.identity.models import StaffMember, StaffRole

from . import errors
from .bundles import QuestionSpec, conditions_check, dependency_cycle, questions_check
from .formschema import schema_check
from .models import (
    Bundle,
    BundleDependency,
    BundleItem,
    BundleQuestion,
    Material,
    ServiceItem,
    ServiceItemVersion,
)
from .services import item_publish


def admin_scope_prefix(request: HttpRequest) -> str | None:
    """Division-code prefix the user may administer; '' for everything; None for nothing."""
    if request.user.is_superuser:
        return ""
    member = (
        StaffMember.objects.select_related("scope").filter(user_id=request.user.pk or 0).first()
    )
    if member is None or not member.has_role(StaffRole.ADMIN):
        return None
    return member.scope.subtree_prefix


class MaterialInline(admin.TabularInline):
    model = Material
    extra = 0
    fields = [
        "order",
        "code",
        "name",
        "material_type",
        "is_mandatory",
        "replaceable_by_shared_data",
        "elements",
    ]

    # Same region scope as the item itself (catalog administrators hold no model permissions).
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_scope_prefix(request) is not None

    has_change_permission = has_view_permission
    has_add_permission = has_view_permission
    has_delete_permission = has_view_permission


class ServiceItemForm(forms.ModelForm):
    class Meta:
        model = ServiceItem
        fields = "__all__"  # noqa: DJ007 — the admin lists the fields it shows

    def clean_form_schema(self) -> dict[str, Any]:
        schema = self.cleaned_data["form_schema"]
        try:
            schema_check(schema)
        except DomainError as error:
            raise forms.ValidationError(error.message) from error
        return schema  # type: ignore[no-any-return]


class RegionScopedAdmin(admin.ModelAdmin):
    """Rows whose `division` lies in the administrator's region; departments and divisions
    outside it are not offered, so the form itself refuses them. Never deleted (cases refer
    to them: withdraw by unpublishing or status instead)."""

    department_fields: tuple[str, ...] = ("department",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        prefix = admin_scope_prefix(request)
        if prefix is None:
            return rows.none()
        return rows.filter(division__code__startswith=prefix)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        prefix = admin_scope_prefix(request) or ""
        if db_field.name in self.department_fields:
            kwargs["queryset"] = db_field.related_model.objects.filter(
                division__code__startswith=prefix
            )
        if db_field.name == "division":
            kwargs["queryset"] = db_field.related_model.objects.filter(
                code__startswith=prefix
            ).exclude(level="township")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_scope_prefix(request) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_scope_prefix(request) is not None

    has_change_permission = has_view_permission
    has_add_permission = has_module_permission  # type: ignore[assignment]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceItem)
class ServiceItemAdmin(RegionScopedAdmin):
    form = ServiceItemForm
    inlines = [MaterialInline]
    list_display = [
        "name",
        "implementation_code",
        "department",
        "division",
        "committed_limit_days",
        "version_number",
    ]
    list_filter = ["item_type", "online_depth", "cross_province", "department"]
    search_fields = ["name", "implementation_code", "catalog_code"]
    readonly_fields = ["version_number"]

    @admin.display(description="当前版本")
    def version_number(self, obj: ServiceItem) -> str:
        return f"v{obj.current_version.number}" if obj.current_version else "未发布"

    list_select_related = ["department", "division", "current_version"]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        try:
            version = item_publish(item=form.instance, actor=f"staff:{request.user.pk}")
        except DomainError as error:
            messages.error(request, error.message)
            return
        messages.info(
            request, f"已发布版本 v{version.number}；进行中的办件仍按其提交时的版本办理。"
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        warn_missing_calendar(request)
        return super().changelist_view(request, extra_context)


@admin.register(ServiceItemVersion)
class ServiceItemVersionAdmin(admin.ModelAdmin):
    list_display = ["item", "number", "published_at", "published_by"]
    readonly_fields = [f.name for f in ServiceItemVersion._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---- 一件事 bundles ----


class RegionScopedInline(admin.TabularInline):
    """Shown and editable to whoever may edit the bundle (catalog administrators hold no
    model permissions; the bundle's region scope decides, as for MaterialInline)."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_scope_prefix(request) is not None

    has_change_permission = has_view_permission
    has_add_permission = has_view_permission
    has_delete_permission = has_view_permission


def _sibling(formset: Any, model: type) -> Any:
    """The other inline formset of the same bundle form (set by BundleAdmin), or None."""
    return next((f for f in getattr(formset, "siblings", []) if f.model is model), None)


def _kept(formset: Any) -> list[dict[str, Any]]:
    return [
        form.cleaned_data
        for form in formset.forms
        if getattr(form, "cleaned_data", None) and not form.cleaned_data.get("DELETE")
    ]


def _question_specs(formset: Any) -> list[QuestionSpec]:
    return [
        QuestionSpec(
            code=data.get("code") or "",
            text=data.get("text") or "",
            kind=data.get("kind") or "",
            options=tuple(str(o) for o in data.get("options") or []),
        )
        for data in _kept(formset)
    ]


class BundleQuestionFormSet(forms.BaseInlineFormSet):
    """情形引导 questions: codes unique and well formed, choice questions with options."""

    def clean(self) -> None:
        super().clean()
        try:
            questions_check(_question_specs(self))
        except DomainError as error:
            raise forms.ValidationError(error.message) from error


class BundleQuestionInline(RegionScopedInline):
    model = BundleQuestion
    formset = BundleQuestionFormSet
    extra = 0
    fields = ["order", "code", "text", "kind", "options"]


class BundleItemFormSet(forms.BaseInlineFormSet):
    """Conditions name existing questions and options, and an item never applies without an
    item it depends on (the same check as catalog.bundles.bundle_save)."""

    def clean(self) -> None:
        super().clean()
        questions_formset = _sibling(self, BundleQuestion)
        if questions_formset is not None and not questions_formset.is_valid():
            return  # its own errors are shown with the questions
        questions = _question_specs(questions_formset) if questions_formset is not None else []
        if questions_formset is None:
            questions = [
                QuestionSpec(q.code, q.text, q.kind, tuple(q.options))
                for q in BundleQuestion.objects.filter(bundle_id=self.instance.pk or 0)
            ]
        rows = [data for data in _kept(self) if data.get("item") is not None]
        index = {data["id"].pk: i for i, data in enumerate(rows) if data.get("id") is not None}
        edges: list[tuple[int, int]] = []
        dependencies_formset = _sibling(self, BundleDependency)
        if dependencies_formset is not None and dependencies_formset.is_valid():
            pairs = [
                (data["upstream"].pk, data["downstream"].pk)
                for data in _kept(dependencies_formset)
                if data.get("upstream") is not None and data.get("downstream") is not None
            ]
        else:
            pairs = list(
                BundleDependency.objects.filter(bundle_id=self.instance.pk or 0).values_list(
                    "upstream_id", "downstream_id"
                )
            )
        edges = [(index[up], index[down]) for up, down in pairs if up in index and down in index]
        try:
            conditions_check(
                questions,
                [data["item"].name for data in rows],
                [data.get("condition") or {} for data in rows],
                edges,
            )
        except DomainError as error:
            raise forms.ValidationError(error.message) from error


class BundleItemInline(RegionScopedInline):
    model = BundleItem
    formset = BundleItemFormSet
    extra = 0
    fields = ["item", "order", "condition"]
    autocomplete_fields = ["item"]


class BundleDependencyFormSet(forms.BaseInlineFormSet):
    """Dependencies join items of this bundle and never form a cycle (checked before saving)."""

    def clean(self) -> None:
        super().clean()
        edges = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            upstream, downstream = data.get("upstream"), data.get("downstream")
            if upstream is None or downstream is None:
                continue
            if self.instance.pk and (
                upstream.bundle_id != self.instance.pk or downstream.bundle_id != self.instance.pk
            ):
                raise forms.ValidationError(_("依赖只能连接本一件事的事项（请先保存新增事项）"))
            if upstream.pk == downstream.pk:
                error = errors.BUNDLE_DEPENDENCY_SELF.error(item=upstream.item.name)
                raise forms.ValidationError(error.message)
            edges.append((upstream, downstream))
        nodes = list({node for edge in edges for node in edge})
        cycle = dependency_cycle(nodes, edges)
        if cycle:
            error = errors.BUNDLE_CYCLE.error(path=" → ".join(node.item.name for node in cycle))
            raise forms.ValidationError(error.message)


class BundleDependencyInline(RegionScopedInline):
    model = BundleDependency
    formset = BundleDependencyFormSet
    extra = 0
    fk_name = "bundle"
    fields = ["upstream", "downstream", "outputs"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in {"upstream", "downstream"}:
            match = request.resolver_match
            object_id = str(match.kwargs.get("object_id") or "") if match else ""
            kwargs["queryset"] = BundleItem.objects.filter(
                bundle_id=int(object_id) if object_id.isdigit() else 0
            ).select_related("item")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Bundle)
class BundleAdmin(RegionScopedAdmin):
    """一件事: items, lead department, dependency graph (cycles refused), scoped by region."""

    inlines = [BundleQuestionInline, BundleItemInline, BundleDependencyInline]
    list_display = ["name", "code", "division", "lead_department", "status"]
    list_filter = ["status"]
    list_select_related = ["division", "lead_department"]
    search_fields = ["name", "code"]
    department_fields = ("lead_department",)

    def _create_formsets(self, request: HttpRequest, obj: Any, change: bool) -> Any:
        # The item conditions are checked against the questions and dependencies edited on
        # the same page: each inline formset gets to see the others.
        formsets, inline_instances = super()._create_formsets(request, obj, change)  # type: ignore[misc]
        for formset in formsets:
            formset.siblings = formsets
        return formsets, inline_instances
