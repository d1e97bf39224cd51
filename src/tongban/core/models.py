"""Kernel data: administrative divisions, the working-day calendar, the audit chain and the
domain events' outbox."""

from __future__ import annotations

import uuid

from django.db import models
from django_fsm import FSMField, transition

from .fsm import StateMachineMixin


class DivisionLevel(models.TextChoices):
    NATION = "nation", "国家"
    PROVINCE = "province", "省"
    CITY = "city", "市"
    COUNTY = "county", "县"
    TOWNSHIP = "township", "乡"


# How many leading characters of a code identify a division's subtree, by level.
SUBTREE_PREFIX_LENGTH = {
    DivisionLevel.NATION: 0,
    DivisionLevel.PROVINCE: 2,
    DivisionLevel.CITY: 4,
    DivisionLevel.COUNTY: 6,
    DivisionLevel.TOWNSHIP: 9,
}


class Division(models.Model):
    """区划 (GB/T 2260; townships carry the 9-digit statistical code)."""

    code = models.CharField("区划代码", max_length=12, primary_key=True)
    name = models.CharField("名称", max_length=64)
    level = models.CharField("层级", max_length=10, choices=DivisionLevel.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name="上级",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        verbose_name = "行政区划"
        verbose_name_plural = "行政区划"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def subtree_prefix(self) -> str:
        """Codes of this division and everything under it start with this prefix."""
        return self.code[: SUBTREE_PREFIX_LENGTH[DivisionLevel(self.level)]]

    def contains(self, code: str) -> bool:
        return code.startswith(self.subtree_prefix)


class HolidayKind(models.TextChoices):
    HOLIDAY = "holiday", "法定节假日（休息）"
    MAKEUP_WORKDAY = "makeup_workday", "调休上班日"


class Holiday(models.Model):
    """A day that differs from the Monday–Friday rule: a weekday off or a weekend workday."""

    date = models.DateField("日期", primary_key=True)
    kind = models.CharField("类型", max_length=16, choices=HolidayKind.choices)
    name = models.CharField("名称", max_length=32, blank=True)

    class Meta:
        verbose_name = "节假日/调休"
        verbose_name_plural = "节假日/调休"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}"


class CalendarYear(models.Model):
    """Whether a year's official holiday schedule (国务院办公厅通知) has been entered."""

    year = models.PositiveSmallIntegerField("年份", primary_key=True)
    is_official = models.BooleanField("已录入官方安排", default=False)
    source = models.CharField("来源", max_length=200, blank=True)

    class Meta:
        verbose_name = "日历年度"
        verbose_name_plural = "日历年度"
        ordering = ["year"]

    def __str__(self) -> str:
        return f"{self.year} ({'官方' if self.is_official else '未发布，按周末推算'})"


class AuditRecord(models.Model):
    """审计日志: append-only; each record's SM3 hash covers the previous record's hash."""

    sequence = models.PositiveBigIntegerField("序号", unique=True)
    occurred_at = models.DateTimeField("时间 (UTC)")
    actor = models.CharField("操作者", max_length=150)
    action = models.CharField("动作", max_length=64)
    object_type = models.CharField("对象类型", max_length=64, blank=True)
    object_id = models.CharField("对象", max_length=64, blank=True)
    outcome = models.CharField("结果", max_length=16)
    detail = models.JSONField("详情", default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = "审计记录"
        verbose_name_plural = "审计记录"
        ordering = ["sequence"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.outcome}"


class AuditHead(models.Model):
    """One row: the chain's last sequence and hash, locked while a record is appended."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.PositiveBigIntegerField(default=0)
    record_hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "审计链头"
        verbose_name_plural = "审计链头"

    def __str__(self) -> str:
        return f"#{self.sequence} {self.record_hash[:12]}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "待投递"
    DELIVERED = "delivered", "已投递"
    PARKED = "parked", "已搁置（待人工处理）"


class Event(models.Model):
    """领域事件: a fact an app published, written in the same transaction as the change it
    reports (a transactional outbox, ADR 0019), so it exists exactly when the change does."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField("事件", max_length=100)
    payload = models.JSONField("内容")
    created_at = models.DateTimeField("发生时间")

    class Meta:
        verbose_name = "领域事件"
        verbose_name_plural = "领域事件"
        ordering = ["created_at"]
        indexes = [models.Index(fields=["created_at"], name="event_created_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.id}"


class EventDelivery(StateMachineMixin, models.Model):
    """One subscriber's delivery of an event: retried with backoff until its handler succeeds,
    parked after too many failures for an administrator to read and replay."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField("处理程序", max_length=100)
    status = FSMField(
        "状态", default=DeliveryStatus.PENDING, choices=DeliveryStatus.choices, protected=True
    )
    attempts = models.PositiveIntegerField("投递次数", default=0)  # started, counted before each
    next_attempt_at = models.DateTimeField("下次投递")
    last_error = models.TextField("最近错误", blank=True)
    delivered_at = models.DateTimeField("投递时间", null=True, blank=True)
    parked_at = models.DateTimeField("搁置时间", null=True, blank=True)

    class Meta:
        verbose_name = "事件投递"
        verbose_name_plural = "事件投递"
        ordering = ["event__created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="event_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="event_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.handler} ← {self.event_id} ({self.status})"

    @transition(field=status, source=DeliveryStatus.PENDING, target=DeliveryStatus.DELIVERED)
    def deliver(self) -> None: ...

    @transition(field=status, source=DeliveryStatus.PENDING, target=DeliveryStatus.PENDING)
    def fail(self) -> None: ...

    @transition(field=status, source=DeliveryStatus.PENDING, target=DeliveryStatus.PARKED)
    def park(self) -> None: ...

    @transition(field=status, source=DeliveryStatus.PARKED, target=DeliveryStatus.PENDING)
    def replay(self) -> None: ...
