"""Back office for licences. Types, issuance rules and imported trust lists: superusers.
Issued licences: read-only, each department's administrators (管理 role, is_staff) see only
what their department issued; status changes go through the API (reason, role, audit, log)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from tongban.identity.models import StaffMember

from . import errors
from .models import IssuerKey, License, LicenseEvent, LicenseIssuance, LicenseType, TrustedRegion
from .offline import trust_anchors
from .services import region, trust_list_import


@admin.register(LicenseType)
class LicenseTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "defining_department_name", "holder_kind", "is_synthetic"]
    search_fields = ["name", "code"]


@admin.register(LicenseIssuance)
class LicenseIssuanceAdmin(admin.ModelAdmin):
    list_display = ["implementation_code", "license_type"]
    search_fields = ["implementation_code"]
    list_select_related = ["license_type"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _department_id(request: HttpRequest) -> int | None:
    """None: everything (superuser); otherwise the staff member's department (or -1)."""
    if request.user.is_superuser:
        return None
    member = StaffMember.objects.filter(user_id=request.user.pk or 0).first()
    return member.department_id if member is not None else -1


class LicenseEventInline(admin.TabularInline):
    model = LicenseEvent
    extra = 0
    can_delete = False
    fields = ("occurred_at", "event_type", "actor_kind", "reason", "log_index")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_staff


@admin.register(License)
class LicenseAdmin(ReadOnlyAdmin):
    list_display = ["identifier", "license_type", "issuer", "issued_on", "valid_until", "status"]
    list_filter = ["status", "license_type"]
    search_fields = ["identifier"]
    list_select_related = ["license_type", "issuer"]
    exclude = ["holder_code", "data"]  # personal data: shown masked in the portal only
    inlines = [LicenseEventInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[License]:
        licenses = super().get_queryset(request)
        department = _department_id(request)
        return licenses if department is None else licenses.filter(issuer_id=department)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not request.user.is_staff:
            return False
        department = _department_id(request)
        return obj is None or department is None or obj.issuer_id == department


@admin.register(IssuerKey)
class IssuerKeyAdmin(ReadOnlyAdmin):
    list_display = ["key_id", "department", "created_at"]
    list_select_related = ["department"]


class TrustedRegionForm(forms.ModelForm):
    class Meta:
        model = TrustedRegion
        fields = ["trust_list"]

    def clean_trust_list(self) -> Any:
        document = self.cleaned_data["trust_list"]
        try:
            trust_anchors(document)
            code = str(document["region"]["code"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValidationError(
                errors.BAD_TRUST_LIST.message, code=errors.BAD_TRUST_LIST.code
            ) from error
        if code == region()["code"]:
            raise ValidationError(errors.OWN_REGION.message, code=errors.OWN_REGION.code)
        return document


@admin.register(TrustedRegion)
class TrustedRegionAdmin(admin.ModelAdmin):
    """Import another region's trust list: paste its JSON (GET /api/v1/licenses/trust-list
    there); region and name are read from it."""

    list_display = ["region", "name", "imported_at"]
    fields = ["trust_list"]
    form = TrustedRegionForm

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = trust_list_import(actor=f"user:{request.user.pk}", document=obj.trust_list)
        obj.pk = saved.pk
