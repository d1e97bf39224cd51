"""The error codes of the interchange app, each named once with its one message (ADR 0020)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import ErrorCode, InvalidInput, NotFound, PermissionDenied, Unauthenticated

UNKNOWN_REGION = ErrorCode("unknown_region", NotFound, _("本部署不服务区域 %(region)s"))
BAD_PUBLIC_KEY = ErrorCode("bad_public_key", InvalidInput, _("公钥无效: %(reason)s"))

# ---------------------------------------------------------------- sending

SENDER_NOT_SERVED = ErrorCode(
    "sender_not_served", InvalidInput, _("本部署不服务发送区域 %(sender)s")
)
UNKNOWN_PEER = ErrorCode("unknown_peer", NotFound, _("未配置接收区域 %(recipient)s"))

# ---------------------------------------------------------------- receiving

UNKNOWN_SENDER = ErrorCode(
    "unknown_sender", PermissionDenied, _("未配置或已停用的发送区域 %(sender)s")
)
BAD_SIGNATURE = ErrorCode("bad_signature", Unauthenticated, _("消息签名格式不正确或验证失败"))
MESSAGE_TOO_LARGE = ErrorCode("message_too_large", InvalidInput, _("消息过大"))
BAD_ENVELOPE = ErrorCode("bad_envelope", InvalidInput, _("消息格式、版本或内容不正确"))
SENDER_MISMATCH = ErrorCode("sender_mismatch", InvalidInput, _("消息发送区域与签名区域不一致"))
WRONG_RECIPIENT = ErrorCode(
    "wrong_recipient", InvalidInput, _("本部署不服务接收区域 %(recipient)s")
)
UNKNOWN_KIND = ErrorCode("unknown_kind", InvalidInput, _("不支持的消息类型 %(kind)s"))
