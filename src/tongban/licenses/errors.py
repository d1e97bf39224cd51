"""The error codes of the licenses app, each named once with its one message (ADR 0020).

The outcomes of a licence verification (offline.FAILURES, "证照真实有效") are not errors: they
are verdicts, computed offline without Django, and translated where they are shown
(presenters.verification)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import Conflict, ErrorCode, InvalidInput, NotFound, PermissionDenied

LICENSE_NOT_FOUND = ErrorCode("license_not_found", NotFound, _("证照不存在"))

# ---------------------------------------------------------------- status changes

ROLE_REQUIRED = ErrorCode("role_required", PermissionDenied, _("“%(action)s”需要决定岗位权限"))
REASON_REQUIRED = ErrorCode("reason_required", InvalidInput, _("请填写原因"))
ILLEGAL_STATUS_CHANGE = ErrorCode(
    "illegal_status_change",
    Conflict,
    _("证照当前状态为“%(status)s”，不能%(action)s"),
)
LICENSE_NOT_USABLE = ErrorCode(
    "license_not_usable", Conflict, _("证照状态为“%(status)s”，不能出示")
)
# The status changes ROLE_REQUIRED and ILLEGAL_STATUS_CHANGE name.
ACTION_SUSPEND = _("暂停使用")
ACTION_REINSTATE = _("恢复使用")
ACTION_REVOKE = _("吊销")

# ---------------------------------------------------------------- trust lists and uploads

BAD_TRUST_LIST = ErrorCode("bad_trust_list", InvalidInput, _("不是有效的信任列表"))
OWN_REGION = ErrorCode("own_region", InvalidInput, _("不能导入本地区自己的信任列表"))
BAD_JSON = ErrorCode("bad_json", InvalidInput, _("文件不是有效的 JSON 对象"))

# ---------------------------------------------------------------- the public verification API

ONE_OF_REQUIRED = ErrorCode("one_of_required", InvalidInput, _("请提供亮证码或证照文件之一"))
BAD_TEXT = ErrorCode("bad_text", InvalidInput, _("证照文件含有无效的字符"))
FILE_TOO_LARGE = ErrorCode("file_too_large", InvalidInput, _("证照文件过大"))

# Per-field messages.
FIELD_REQUIRED = _("必填")
FIELD_ONE_OF = _("二选一")
FIELD_BAD_TEXT = _("无效字符")
FIELD_TOO_LARGE = _("过大")
