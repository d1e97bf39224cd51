"""Kernel data: administrative divisions, the working-day calendar and the audit chain."""

from __future__ import annotations

from django.db import models


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
