"""The error codes of the ledger app, each named once with its one message (ADR 0020).

The proof modules (`merkle`, `note`) stay free of Django: they raise plain Python exceptions,
which the services turn into these codes."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import Conflict, ErrorCode, InvalidInput, NotFound, PermissionDenied


class SplitView(Conflict):
    """分叉视图: the witnessed log showed two histories that cannot both be true."""


# ---------------------------------------------------------------- logs and their reads

INVALID_LOG_NAME = ErrorCode(
    "invalid_log_name",
    InvalidInput,
    _("日志名称只能包含小写字母、数字、-、_（最多 64 个字符）"),
)
INVALID_HASH_ALGORITHM = ErrorCode(
    "invalid_hash_algorithm", InvalidInput, _("不支持的哈希算法（可选 sm3、sha256）")
)
INVALID_ORIGIN = ErrorCode(
    "invalid_origin", InvalidInput, _("来源标识不能包含空白或“+”，且不超过 200 个字符")
)
ORIGIN_TAKEN = ErrorCode("origin_taken", Conflict, _("该来源标识已被其他日志使用"))
LOG_NOT_FOUND = ErrorCode("log_not_found", NotFound, _("日志不存在"))
ENTRY_NOT_FOUND = ErrorCode("entry_not_found", NotFound, _("该序号的存证条目不存在"))
CHECKPOINT_NOT_FOUND = ErrorCode("checkpoint_not_found", NotFound, _("该日志尚未发布签名树头"))
SIZE_OUT_OF_RANGE = ErrorCode(
    "size_out_of_range", InvalidInput, _("参数 %(field)s 应在 0 到 %(maximum)s 之间")
)
INDEX_OUT_OF_RANGE = ErrorCode(
    "index_out_of_range", InvalidInput, _("叶子序号应在 0 到 %(last)s 之间")
)

# ---------------------------------------------------------------- the trust list and witnessing

VKEY_MISSING = ErrorCode("vkey_missing", InvalidInput, _("至少需要一个公钥"))
INVALID_VKEY = ErrorCode("invalid_vkey", InvalidInput, _("公钥格式不正确：%(reason)s"))
INVALID_TRUST_LIST = ErrorCode(
    "invalid_trust_list",
    InvalidInput,
    _('信任列表应为 {"logs": [...]}，每一项需要 origin 与 vkeys'),
)
TRUST_LIST_UNREADABLE = ErrorCode(
    "trust_list_unreadable", InvalidInput, _("无法读取信任列表：%(reason)s")
)
FORBIDDEN = ErrorCode("forbidden", PermissionDenied, _("仅管理员或系统账号可提交见证请求"))
UNKNOWN_LOG = ErrorCode("unknown_log", NotFound, _("该日志不在本地区的信任列表中"))
INVALID_CHECKPOINT = ErrorCode(
    "invalid_checkpoint", InvalidInput, _("检查点格式错误或签名无效：%(reason)s")
)
INVALID_PROOF = ErrorCode("invalid_proof", InvalidInput, _("一致性证明的每一项应为 32 字节的哈希"))
SPLIT_VIEW = ErrorCode(
    "split_view",
    SplitView,
    _("检测到分叉视图：%(origin)s 的检查点与此前见到的不一致（%(kind)s）"),
)
