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

from tongban.core.admin import warn_missing_calendar
from tongban.core.errors import DomainError
from tongban.identity.models import StaffMember, StaffRole

from .bundles import dependency_cycle
from .formschema import schema_check
from .models import (
    Bundle,
    BundleDependency,
    BundleItem,
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


class BundleItemInline(admin.TabularInline):
    model = BundleItem
    extra = 0
    fields = ["item", "order"]
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
                raise forms.ValidationError("依赖只能连接本一件事的事项（请先保存新增事项）")
            if upstream.pk == downstream.pk:
                raise forms.ValidationError(f"事项不能依赖自身：{upstream.item.name}")
            edges.append((upstream, downstream))
        nodes = list({node for edge in edges for node in edge})
        cycle = dependency_cycle(nodes, edges)
        if cycle:
            path = " → ".join(node.item.name for node in cycle)
            raise forms.ValidationError(f"事项依赖存在循环：{path}")


class BundleDependencyInline(admin.TabularInline):
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

    inlines = [BundleItemInline, BundleDependencyInline]
    list_display = ["name", "code", "division", "lead_department", "status"]
    list_filter = ["status"]
    list_select_related = ["division", "lead_department"]
    search_fields = ["name", "code"]
    department_fields = ("lead_department",)
