"""The error codes of the exchange app, each named once with its one message (ADR 0020), and
the errors of the registries behind the gateway."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import (
    Conflict,
    ErrorCode,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)


class RegistryUnavailable(Unavailable):
    """A registry cannot answer now (down, not connected, switched off, a malformed answer)."""

    status = 503


class RegistryTimeout(RegistryUnavailable):
    """A remote registry did not answer in time, however often it was asked."""

    status = 504


# ---------------------------------------------------------------- who may ask

CITIZEN_REQUIRED = ErrorCode("citizen_required", PermissionDenied, _("仅实名注册的申请人可以使用"))
STAFF_REQUIRED = ErrorCode("staff_required", PermissionDenied, _("仅工作人员可以使用"))
SECURITY_ROLE_REQUIRED = ErrorCode(
    "security_role_required", PermissionDenied, _("需要安全审计岗位权限")
)
GRANT_ROLE_REQUIRED = ErrorCode(
    "grant_role_required", PermissionDenied, _("%(action)s需要管理或决定岗位权限")
)
# The actions GRANT_ROLE_REQUIRED names.
GRANT_ACTION_REQUEST = _("申请共享授权")
GRANT_ACTION_DECIDE = _("审批共享授权")

# ---------------------------------------------------------------- what may be asked for

ELEMENTS_REQUIRED = ErrorCode("elements_required", InvalidInput, _("请至少指定一个数据元"))
TOO_MANY_ELEMENTS = ErrorCode("too_many_elements", InvalidInput, _("一次最多查询%(limit)s个数据元"))
UNKNOWN_ELEMENT = ErrorCode(
    "unknown_element", InvalidInput, _("资源目录中没有这些数据元：%(elements)s")
)
MIXED_REGISTRIES = ErrorCode("mixed_registries", InvalidInput, _("一次只能针对一个基础库的数据元"))
UNKNOWN_PURPOSE = ErrorCode(
    "unknown_purpose", InvalidInput, _("用途 %(purpose)s 不是已发布的政务服务事项")
)
NOT_MINIMUM_NECESSARY = ErrorCode(
    "not_minimum_necessary",
    PermissionDenied,
    _("超出最小必要范围：事项 %(purpose)s 的申请表和材料未声明 %(elements)s"),
)
SUBJECT_INVALID = ErrorCode("subject_invalid", InvalidInput, _("查询对象无效：%(reason)s"))

# ---------------------------------------------------------------- grants (共享授权)

REASON_REQUIRED = ErrorCode("reason_required", InvalidInput, _("请填写申请理由"))
REASON_FIELD = _("请填写理由")
PURPOSE_NOT_OWN = ErrorCode(
    "purpose_not_own", PermissionDenied, _("只能为本部门实施的事项申请共享授权")
)
PLAIN_NOT_REQUESTED = ErrorCode(
    "plain_not_requested", InvalidInput, _("需明文的数据元必须在申请的数据元之内")
)
GRANT_NOT_FOUND = ErrorCode("grant_not_found", NotFound, _("共享申请不存在"))
GRANT_DECIDED = ErrorCode("grant_decided", Conflict, _("该申请已%(status)s，不能重复审批"))
EXPIRY_IN_PAST = ErrorCode("expiry_in_past", InvalidInput, _("有效期必须晚于当前时间"))
NOTE_REQUIRED = ErrorCode("note_required", InvalidInput, _("拒绝须填写理由"))
NOTE_FIELD = _("请填写拒绝理由")

# ---------------------------------------------------------------- consents (用户授权)

NOTHING_TO_CONSENT = ErrorCode(
    "nothing_to_consent", InvalidInput, _("该事项没有可由共享数据提供的内容")
)
NOT_ENTERPRISE_AGENT = ErrorCode(
    "not_enterprise_agent", PermissionDenied, _("您不是该企业的经办人")
)
CONSENT_NOT_FOUND = ErrorCode("consent_not_found", NotFound, _("授权不存在"))

# ---------------------------------------------------------------- the gateway's refusals

GRANT_EXPIRED = ErrorCode(
    "grant_expired", PermissionDenied, _("共享授权已过期，请向数据责任部门重新申请")
)
NO_GRANT = ErrorCode(
    "no_grant",
    PermissionDenied,
    _("本部门未获得该用途下这些数据元的共享授权：%(elements)s"),
)
NO_CONSENT = ErrorCode(
    "no_consent", PermissionDenied, _("申请人未授权（或已撤回授权）使用这些数据")
)
CASE_NOT_FOUND = ErrorCode("case_not_found", PermissionDenied, _("关联的办件不存在或不属于本部门"))
VERIFY_ONLY = ErrorCode(
    "verify_only", PermissionDenied, _("核心数据只能核验、不能查询：%(elements)s")
)
PLAIN_NOT_GRANTED = ErrorCode(
    "plain_not_granted",
    PermissionDenied,
    _("授权未包含明文使用：%(elements)s（将返回脱敏值，请去掉 plain）"),
)
ALERT_NOT_FOUND = ErrorCode("alert_not_found", NotFound, _("告警不存在"))

# ---------------------------------------------------------------- registries

REGISTRY_INACTIVE = ErrorCode("registry_inactive", RegistryUnavailable, _("%(registry)s已停用"))
REGISTRY_NOT_CONNECTED = ErrorCode(
    "registry_not_connected",
    RegistryUnavailable,
    _("%(registry)s尚未接入，暂不能提供共享数据"),
)
REGISTRY_BAD_ANSWER = ErrorCode(
    "registry_bad_answer",
    RegistryUnavailable,
    _("%(registry)s返回的数据格式不正确（%(detail)s），请稍后重试"),
)
REGISTRY_TIMEOUT = ErrorCode(
    "registry_timeout",
    RegistryTimeout,
    _("%(registry)s查询超时（已重试%(retries)s次），请稍后重试"),
)
REGISTRY_UNAVAILABLE = ErrorCode(
    "registry_unavailable",
    RegistryUnavailable,
    _("%(registry)s暂时不可用（已重试%(retries)s次），请稍后重试"),
)
