"""跨区域消息: the peers this deployment exchanges signed messages with, the outbox and the
inbox (ADR 0011)."""

from __future__ import annotations

from django.db import models


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
