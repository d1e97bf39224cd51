from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse

from . import clock
from .calendar import missing_official_years
from .models import (
    AuditRecord,
    CalendarYear,
    Division,
    Holiday,
    InboundMessage,
    OutboundMessage,
    Peer,
)


def warn_missing_calendar(request: HttpRequest) -> None:
    """Visible warning: deadlines running into a year without official data are estimates."""
    year = clock.today().year
    missing = missing_official_years(year, year + 1)
    if missing:
        messages.warning(
            request,
            "以下年份尚无官方节假日安排，期限按周末推算，请在“节假日/调休”中录入："
            + "、".join(str(y) for y in missing)
            + " (no official holiday schedule: deadlines are estimated from weekends)",
        )


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "kind", "name"]
    list_filter = ["kind"]
    date_hierarchy = "date"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        warn_missing_calendar(request)
        return super().changelist_view(request, extra_context)


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "is_official", "source"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        warn_missing_calendar(request)
        return super().changelist_view(request, extra_context)


@admin.register(Division)
class DivisionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = [
        "sequence",
        "occurred_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "outcome",
    ]
    list_filter = ["action", "outcome"]
    search_fields = ["object_id", "actor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Peer)
class PeerAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "base_url", "is_active"]


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "sender", "peer", "kind", "attempts", "delivered_at"]
    list_filter = ["kind", "peer"]
    exclude = ["body", "signature"]


@admin.register(InboundMessage)
class InboundMessageAdmin(_ReadOnlyAdmin):
    list_display = ["received_at", "sender", "recipient", "kind", "message_id"]
    list_filter = ["kind", "sender"]
    exclude = ["payload"]
