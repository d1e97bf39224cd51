from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse

from . import clock
from .calendar import missing_official_years
from .models import (
    AuditRecord,
    CalendarYear,
    DeliveryStatus,
    Division,
    EventDelivery,
    Holiday,
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


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(EventDelivery)
class EventDeliveryAdmin(_ReadOnlyAdmin):
    """领域事件投递: what every event's subscribers did with it; parked deliveries (failed too
    often) show their error here and can be replayed once the cause is fixed (ADR 0019)."""

    list_display = [
        "id",
        "event_name",
        "handler",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
        "created_at",
    ]
    list_filter = ["status", "handler"]
    search_fields = ["event__id", "handler", "last_error"]
    list_select_related = ["event"]
    readonly_fields = [
        "event_name",
        "event_payload",
        "handler",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "parked_at",
        "last_error",
    ]
    fields = list(readonly_fields)
    actions = ["replay"]

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    @admin.display(description="事件")
    def event_name(self, obj: EventDelivery) -> str:
        return obj.event.name

    @admin.display(description="内容")
    def event_payload(self, obj: EventDelivery) -> str:
        import json

        return json.dumps(obj.event.payload, ensure_ascii=False, indent=2)

    @admin.display(description="发生时间", ordering="event__created_at")
    def created_at(self, obj: EventDelivery) -> Any:
        return obj.event.created_at

    @admin.display(description="最近错误")
    def short_error(self, obj: EventDelivery) -> str:
        return obj.last_error[:120]

    @admin.action(description="重新投递所选的已搁置事件 (replay parked deliveries)")
    def replay(self, request: HttpRequest, queryset: Any) -> None:
        from .events import deliveries_replay

        ids = list(queryset.filter(status=DeliveryStatus.PARKED).values_list("pk", flat=True))
        count = deliveries_replay(delivery_ids=ids, actor=f"staff:{request.user.pk}")
        skipped = queryset.count() - count
        self.message_user(
            request,
            f"已重新投递 {count} 条"
            + (f"；{skipped} 条未搁置，未处理" if skipped else "")
            + f" (replayed {count})",
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        parked = EventDelivery.objects.filter(status=DeliveryStatus.PARKED).count()
        if parked:
            messages.warning(
                request,
                f"有 {parked} 条事件投递多次失败后已搁置，请查明原因后重新投递"
                f" ({parked} parked deliveries need attention)",
            )
        return super().changelist_view(request, extra_context)
