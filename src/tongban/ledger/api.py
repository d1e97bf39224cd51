"""JSON API of the ledger app (mounted at /api/v1/ledger in tongban.config.api).

Everything is public and read-only (`auth=None`) except the witness endpoint, which takes
the API's bearer token and requires a superuser, a staff member with the admin role (管理),
or an account holding the `ledger.add_witnessedcheckpoint` permission (a system token).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema
from ninja.errors import ValidationError

from tongban.core.schemas import error_responses

from . import errors, selectors, services
from .merkle import HASH_SIZE
from .note import checkpoint_parse, note_parse
from .schemas import (
    ConsistencyOut,
    CosignatureOut,
    EntryOut,
    LogOut,
    TreeHeadOut,
    WitnessIn,
    WitnessKeysOut,
)

router = Router(tags=["ledger"])

MAX_SIZE = 2**62  # beyond any real log; larger numbers are refused before the database


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _number(value: int | None, field: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_SIZE:
        raise errors.SIZE_OUT_OF_RANGE.error(
            field=field, maximum=MAX_SIZE, fields={field: _("超出范围")}
        )
    return value


@router.get("/logs", auth=None, response={200: list[LogOut], **error_responses()})
def logs_list(request: HttpRequest) -> list[dict[str, Any]]:
    """日志列表及其公钥 (vkey)。"""
    return [
        {
            "name": log.name,
            "origin": log.origin,
            "hash_algorithm": log.hash_algorithm,
            "size": log.size,
            "vkeys": selectors.log_verifier_keys(log_name=log.name),
        }
        for log in selectors.logs_list()
    ]


@router.get(
    "/logs/{name}/checkpoint",
    auth=None,
    response={200: str, **error_responses(404)},
    openapi_extra={
        "responses": {200: {"description": "C2SP 签名检查点", "content": {"text/plain": {}}}}
    },
)
def checkpoint_latest(request: HttpRequest, name: str) -> HttpResponse:
    """最新签名树头（C2SP checkpoint，text/plain）。"""
    note = selectors.latest_checkpoint(log_name=name)
    if note is None:
        raise errors.CHECKPOINT_NOT_FOUND.error()
    return HttpResponse(note, content_type="text/plain; charset=utf-8")


class SizeQuery(Schema):
    size: int | None = None


@router.get(
    "/logs/{name}/tree-head", auth=None, response={200: TreeHeadOut, **error_responses(404, 422)}
)
def tree_head(request: HttpRequest, name: str, query: Query[SizeQuery]) -> dict[str, Any]:
    """任一历史大小的树头（未签名；签名树头见 checkpoint）。"""
    head = selectors.tree_head(log_name=name, size=_number(query.size, "size"))
    return {"size": head.size, "root_hash": _b64(head.root_hash)}


@router.get(
    "/logs/{name}/entries/{index}",
    auth=None,
    response={200: EntryOut, **error_responses(404, 422)},
)
def entry_with_proof(
    request: HttpRequest, name: str, index: int, query: Query[SizeQuery]
) -> dict[str, Any]:
    """条目及其包含证明：?size= 指定树大小（默认当前大小，可取某个签名树头的大小）。"""
    _number(index, "index")
    head = selectors.tree_head(log_name=name, size=_number(query.size, "size"))
    if not 0 <= index < head.size:
        raise errors.ENTRY_NOT_FOUND.error()
    content, leaf = selectors.entry_leaf(log_name=name, index=index)
    proof = selectors.inclusion_proof(log_name=name, index=index, size=head.size)
    return {
        "index": index,
        "entry": _b64(content),
        "leaf_hash": _b64(leaf),
        "tree_size": head.size,
        "root_hash": _b64(head.root_hash),
        "inclusion_proof": [_b64(p) for p in proof],
    }


class ConsistencyQuery(Schema):
    old: int
    new: int


@router.get(
    "/logs/{name}/consistency",
    auth=None,
    response={200: ConsistencyOut, **error_responses(404, 422)},
)
def consistency(request: HttpRequest, name: str, query: Query[ConsistencyQuery]) -> dict[str, Any]:
    """一致性证明：?old=&new=。"""
    old, new = _number(query.old, "old"), _number(query.new, "new")
    assert old is not None and new is not None
    proof = selectors.consistency_proof(log_name=name, old_size=old, new_size=new)
    return {
        "old": old,
        "new": new,
        "old_root_hash": _b64(selectors.tree_head(log_name=name, size=old).root_hash),
        "new_root_hash": _b64(selectors.tree_head(log_name=name, size=new).root_hash),
        "consistency_proof": [_b64(p) for p in proof],
    }


@router.get("/witness", auth=None, response={200: WitnessKeysOut, **error_responses()})
def witness_keys(request: HttpRequest) -> dict[str, Any]:
    """本地区见证人的副署公钥。"""
    return {"name": services.witness_name(), "vkeys": selectors.witness_verifier_keys()}


def _may_witness(user: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or user.has_perm("ledger.add_witnessedcheckpoint"):
        return True
    # identity is outside ledger (import rule): read the staff profile without importing it.
    staff = getattr(user, "staff_member", None)
    return bool(staff is not None and staff.has_role("admin"))


def _witness_body(request: HttpRequest) -> WitnessIn:
    try:
        data = json.loads(request.body or b"null")
        return WitnessIn.model_validate(data)
    except ValueError as error:  # JSON or pydantic errors
        details = getattr(error, "errors", None)
        found = details() if callable(details) else [{"loc": (), "msg": str(_("JSON 无效"))}]
        raise ValidationError(
            [{"loc": ["body", *item.get("loc", ())], "msg": item.get("msg", "")} for item in found]
        ) from None


@router.post(
    "/witness",
    response={200: CosignatureOut, **error_responses(401, 403, 404, 409, 422)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": WitnessIn.model_json_schema()}},
        }
    },
)
def witness(request: HttpRequest) -> dict[str, Any]:
    """见证：核验另一地区日志的签名检查点与一致性证明，返回本地区的副署签名。

    分叉视图（同一大小不同根、一致性证明不成立、树变小）返回 409 split_view 并产生告警。"""
    if not _may_witness(getattr(request, "auth", None)):
        raise errors.FORBIDDEN.error()
    body = _witness_body(request)
    proof = []
    for number, encoded in enumerate(body.consistency_proof):
        try:
            value = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            value = b""
        if len(value) != HASH_SIZE:
            raise errors.INVALID_PROOF.error(
                fields={f"consistency_proof.{number}": _("应为 32 字节哈希的 base64")}
            )
        proof.append(value)
    line = services.witness_observe(
        origin=body.origin, note=body.checkpoint, consistency_proof=proof
    )
    size = checkpoint_parse(note_parse(body.checkpoint)[0]).size
    return {
        "origin": body.origin,
        "size": size,
        "cosignature": line,
        "witness_vkey": services.witness_signer().vkey(),
    }
