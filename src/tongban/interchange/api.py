"""Interchange API: peers deliver signed messages here; a region's public key for peers."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from tongban.core.crypto import key_fingerprint
from tongban.core.schemas import ErrorOut

from . import services as interchange

router = Router(tags=["interchange"], auth=None)


class RegionKeyOut(Schema):
    code: str
    public_key: str
    algorithm: str = "SM2-with-SM3"
    fingerprint: str  # first 16 hex chars of SM3(public key hex): compare out of band


class MessageReceivedOut(Schema):
    status: str
    reply: dict


@router.get("/regions/{code}", response={200: RegionKeyOut, 404: ErrorOut})
def region_key(request: HttpRequest, code: str) -> RegionKeyOut:
    """本部署某区域的消息签名公钥（供对端配置）。"""
    key = interchange.region_public_key(code)
    return RegionKeyOut(code=code, public_key=key, fingerprint=key_fingerprint(key))


@router.post(
    "/messages",
    response={200: MessageReceivedOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    openapi_extra={
        "parameters": [
            {
                "in": "header",
                "name": interchange.SENDER_HEADER,
                "required": True,
                "schema": {"type": "string"},
            },
            {
                "in": "header",
                "name": interchange.SIGNATURE_HEADER,
                "required": True,
                "schema": {"type": "string"},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
def message_receive(request: HttpRequest) -> MessageReceivedOut:
    """接收对端区域的签名消息：同一消息重复投递只处理一次，返回首次的回执。"""
    sender = request.headers.get(interchange.SENDER_HEADER, "")
    signature = interchange.decode_signature(request.headers.get(interchange.SIGNATURE_HEADER, ""))
    received = interchange.message_receive(sender=sender, body=request.body, signature=signature)
    return MessageReceivedOut(status=received.status, reply=received.reply)
