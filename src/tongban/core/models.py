"""Kernel data: administrative divisions, the working-day calendar, the audit chain, the
interchange's peers and messages, and the domain events' outbox."""

from __future__ import annotations

import uuid

from django.db import models
from django_fsm import FSMField, transition


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


class Peer(models.Model):
    """对端: a region that exchanges signed messages with this one (跨省通办 hand-offs).

    A peer is either another tongban deployment (`base_url` set: messages go over HTTP) or a
    region tenant of this deployment (`base_url` empty: the same signed message is delivered
    in-process, through the same checks).
    """

    code = models.CharField("区域代码", max_length=12, primary_key=True)
    name = models.CharField("名称", max_length=64)
    base_url = models.URLField("接口地址", blank=True, help_text="空 = 本部署内的区域租户")
    public_key = models.CharField("SM2 公钥 (x‖y hex)", max_length=130)
    # The key it signed with before its last rotation, still accepted until `previous_key_until`:
    # messages it signed before rotating may still be on their way (its outbox retries them).
    previous_public_key = models.CharField("上一把公钥", max_length=130, blank=True)
    previous_key_until = models.DateTimeField("上一把公钥有效至", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "对端区域"
        verbose_name_plural = "对端区域"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_local(self) -> bool:
        return not self.base_url


class OutboundMessage(models.Model):
    """发件箱: a signed message to a peer, kept until the peer acknowledges it."""

    id = models.UUIDField(primary_key=True)
    sender = models.CharField("发送区域", max_length=12)
    peer = models.ForeignKey(Peer, verbose_name="接收区域", on_delete=models.PROTECT)
    kind = models.CharField("类型", max_length=64)
    body = models.TextField("报文 (签名覆盖的字节, UTF-8 JSON)")
    signature = models.CharField("SM2 签名 (hex)", max_length=128)
    created_at = models.DateTimeField("创建时间")
    attempts = models.PositiveIntegerField("投递次数", default=0)
    next_attempt_at = models.DateTimeField("下次投递")
    delivered_at = models.DateTimeField("送达时间", null=True, blank=True)
    reply = models.JSONField("对端回执", default=dict, blank=True)
    last_error = models.CharField("最近错误", max_length=500, blank=True)

    class Meta:
        verbose_name = "发出的消息"
        verbose_name_plural = "发出的消息"
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["delivered_at", "next_attempt_at"], name="outbound_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.peer_id} ({self.id})"


class InboundMessage(models.Model):
    """收件箱: a message received from a peer; (sender, message id) is unique, so a retried or
    duplicated message is recognised and answered with the first reply, never processed twice."""

    sender = models.CharField("发送区域", max_length=12)
    recipient = models.CharField("接收区域", max_length=12)
    message_id = models.UUIDField("消息编号")
    kind = models.CharField("类型", max_length=64)
    payload = models.JSONField("内容")
    received_at = models.DateTimeField("接收时间")
    reply = models.JSONField("回执", default=dict, blank=True)

    class Meta:
        verbose_name = "收到的消息"
        verbose_name_plural = "收到的消息"
        ordering = ["received_at"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "message_id"], name="inbound_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ← {self.sender} ({self.message_id})"


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


class EventDelivery(models.Model):
    """One subscriber's delivery of an event: retried with backoff until its handler succeeds,
    parked after too many failures for an administrator to read and replay."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField("处理程序", max_length=100)
    status = FSMField(
        "状态", default=DeliveryStatus.PENDING, choices=DeliveryStatus.choices, protected=True
    )
    attempts = models.PositiveIntegerField("失败次数", default=0)
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
