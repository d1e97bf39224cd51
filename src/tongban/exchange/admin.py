"""Back office for the exchange: the resource catalog and registries are edited here; grants,
consents, records and alerts are read-only (they change only through services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest

from .models import (
    Consent,
    DataElement,
    DataUseRecord,
    Grant,
    Registry,
    SecurityAlert,
    SystemCredential,
)
from .services import exchange_cache_clear


class CatalogAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Edits reach this process's gateway cache at once (other processes within a minute)."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(exchange_cache_clear)


@admin.register(Registry)
class RegistryAdmin(CatalogAdmin):
    list_display = ("code", "name", "department", "kind", "subject_type", "is_active")


@admin.register(DataElement)
class DataElementAdmin(CatalogAdmin):
    list_display = ("code", "name", "registry", "level", "mask_kind", "freshness_hours")
    list_filter = ("registry", "level")


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ("id", "department", "registry", "purpose", "status", "expires_at")
    list_filter = ("status",)


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("id", "purpose", "given_at", "expires_at", "revoked_at")


@admin.register(SystemCredential)
class SystemCredentialAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "department", "created_at", "expires_at", "is_active")
    exclude = ("key_hash",)


@admin.register(DataUseRecord)
class DataUseRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "occurred_at", "kind", "caller", "department", "outcome")
    list_filter = ("kind", "outcome")
    exclude = ("subject_key",)


@admin.register(SecurityAlert)
class SecurityAlertAdmin(ReadOnlyAdmin):
    list_display = ("id", "rule", "caller", "department", "raised_at", "acknowledged_at")
    list_filter = ("rule",)
