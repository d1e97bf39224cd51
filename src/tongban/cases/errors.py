"""The error codes of the cases app, each named once with its one message (ADR 0020).

One module for the whole app: submission, bundles (一件事), cross-region (跨省通办) and
supervision (协办、转办、督办) share it. Where a message names what was refused
(`%(action)s`, `%(what)s`, `%(label)s`), the value is one of the translated words below or
a domain label (an action, a status)."""

from __future__ import annotations

from typing import Any

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tongban.core.errors import (
    Conflict,
    ErrorCode,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)


def _fill(template: Any, params: dict[str, Any]) -> str:
    return str(template) % {key: str(value) for key, value in params.items()}


_fill_lazy = lazy(_fill, str)


def field_message(template: Any, /, **params: Any) -> Any:
    """A per-field message with parameters, rendered (translated, then filled in) when read,
    as an ErrorCode's own message is."""
    return _fill_lazy(template, params)


# ---------------------------------------------------------------- not found

CASE_NOT_FOUND = ErrorCode("case_not_found", NotFound, _("办件不存在"))
BUNDLE_CASE_NOT_FOUND = ErrorCode("bundle_case_not_found", NotFound, _("一件事办件不存在"))
RECEIVED_NOT_FOUND = ErrorCode("received_not_found", NotFound, _("代收件不存在"))
APPLICATION_NOT_FOUND = ErrorCode("application_not_found", NotFound, _("申请不存在"))
PART_NOT_FOUND = ErrorCode("part_not_found", NotFound, _("联办部分不存在"))
ITEM_NOT_FOUND = ErrorCode("item_not_found", NotFound, _("办理地无此事项"))
UNKNOWN_REGION = ErrorCode("unknown_region", NotFound, _("未与办理地 %(region)s 建立跨省通办连接"))
ASSIST_TASK_NOT_FOUND = ErrorCode("assist_task_not_found", NotFound, _("协办任务不存在"))
ALERT_NOT_FOUND = ErrorCode("alert_not_found", NotFound, _("督办提醒不存在"))

# ---------------------------------------------------------------- who may

CITIZEN_REQUIRED = ErrorCode(
    "citizen_required", PermissionDenied, _("只有实名注册的申请人可以%(action)s")
)
# The %(action)s of citizen_required.
TO_APPLY = pgettext_lazy("only applicants can", "提交申请")
TO_CORRECT = pgettext_lazy("only applicants can", "补正")

STAFF_REQUIRED = ErrorCode("staff_required", PermissionDenied, _("仅工作人员可查看%(what)s"))
# The %(what)s of staff_required.
CASE_QUEUE = pgettext_lazy("only staff can see", "办件队列")
RECEIVED_QUEUE = pgettext_lazy("only staff can see", "代收件")
ASSIST_TASKS = pgettext_lazy("only staff can see", "协办任务")
ALERTS = pgettext_lazy("only staff can see", "督办提醒")

ROLE_REQUIRED = ErrorCode("role_required", PermissionDenied, _("“%(action)s”需要%(roles)s岗位权限"))
HANDLER_ROLE_REQUIRED = ErrorCode(
    "handler_role_required", PermissionDenied, _("需要受理、审查或决定岗位权限")
)
SUPERVISE_ROLE_REQUIRED = ErrorCode(
    "supervise_role_required", PermissionDenied, _("需要督办岗位权限")
)
NOT_ENTERPRISE_AGENT = ErrorCode(
    "not_enterprise_agent", PermissionDenied, _("您不是该企业的经办人")
)

# ---------------------------------------------------------------- submission

IDEMPOTENCY_KEY_INVALID = ErrorCode(
    "idempotency_key_invalid", InvalidInput, _("Idempotency-Key 长度应为 1–100 个字符")
)
IDEMPOTENCY_KEY_REUSED = ErrorCode(
    "idempotency_key_reused",
    Conflict,
    _("该幂等键已用于另一份不同的申请，请使用新的 Idempotency-Key"),
)
APPLICANT_TYPE_NOT_SERVED = ErrorCode(
    "applicant_type_not_served",
    InvalidInput,
    _("“%(item)s”不面向此类申请人（请以%(applicant)s身份申请）"),
)
# The %(applicant)s of applicant_type_not_served.
AS_ENTERPRISE = pgettext_lazy("apply as", "企业")
AS_CITIZEN = pgettext_lazy("apply as", "个人")

FORM_INVALID = ErrorCode("form_invalid", InvalidInput, _("申请表或材料有误，请按提示修改"))
MATERIAL_UNKNOWN = ErrorCode(
    "material_unknown", InvalidInput, _("本事项没有编码为 %(code)s 的材料")
)
MATERIAL_EMPTY = ErrorCode("material_empty", InvalidInput, _("“%(name)s”文件为空"))
MATERIAL_TOO_LARGE = ErrorCode(
    "material_too_large", InvalidInput, _("“%(name)s”文件超过大小上限 %(kb)s KB")
)
MATERIAL_TYPE_NOT_ALLOWED = ErrorCode(
    "material_type_not_allowed",
    InvalidInput,
    _("“%(name)s”文件类型不支持（仅接受 PDF、JPEG、PNG，按文件内容判断）"),
)
MATERIAL_MISSING = ErrorCode("material_missing", InvalidInput, _("缺少必要材料：%(names)s"))
MATERIAL_ENCODING = ErrorCode(
    "material_encoding",
    InvalidInput,
    _("材料 %(code)s 的 content_base64 不是有效的 base64"),
)
SWEEP_TOO_YOUNG = ErrorCode("sweep_too_young", InvalidInput, _("只能清理至少 1 小时前写入的文件"))

# ---------------------------------------------------------------- staff actions

UNKNOWN_ACTION = ErrorCode("unknown_action", InvalidInput, _("未知的操作：%(action)s"))
ILLEGAL_TRANSITION = ErrorCode(
    "illegal_transition", Conflict, _("办件当前状态为“%(status)s”，不能执行“%(action)s”")
)
STALE_CASE = ErrorCode("stale_case", Conflict, _("办件已被他人处理，请刷新后重试"))
COMMENT_REQUIRED = ErrorCode("comment_required", InvalidInput, _("“%(action)s”须填写理由"))
# The %(action)s of comment_required when a received application is returned.
TO_RETURN = pgettext_lazy("a reason for", "退回")
COMMENT_TOO_LONG = ErrorCode("comment_too_long", InvalidInput, _("意见不能超过2000字"))

# ---------------------------------------------------------------- 一件事

BUNDLE_NOTHING_APPLIES = ErrorCode(
    "bundle_nothing_applies", InvalidInput, _("按您的情形，本一件事没有需要办理的事项")
)

# ---------------------------------------------------------------- 跨省通办

RECEIVING_REGION_UNKNOWN = ErrorCode(
    "receiving_region_unknown", InvalidInput, _("本平台不服务代收地 %(region)s")
)
SAME_REGION = ErrorCode("same_region", InvalidInput, _("办理地与代收地相同，请直接申请"))
ITEM_NOT_IN_REGION = ErrorCode("item_not_in_region", InvalidInput, _("该事项不属于所选办理地"))
NOT_CROSS_PROVINCE = ErrorCode(
    "not_cross_province", InvalidInput, _("“%(item)s”未开通跨省通办，请向办理地申请")
)
HANDLING_REGION_UNAVAILABLE = ErrorCode(
    "handling_region_unavailable", Unavailable, _("办理地系统暂不可用，请稍后再试")
)
PARTS_INVALID = ErrorCode("parts_invalid", InvalidInput, _("多地联办须包含 2 至 %(max)s 个部分"))
PARTS_DUPLICATE = ErrorCode("parts_duplicate", InvalidInput, _("同一事项在同一办理地只能出现一次"))
MATERIAL_PART_UNKNOWN = ErrorCode(
    "material_part_unknown", InvalidInput, _("材料所属的部分 %(part)s 不存在")
)
ALREADY_CHECKED = ErrorCode("already_checked", Conflict, _("该代收件已审核"))
# The %(action)s of role_required for the receiving check.
TO_CHECK_RECEIVED = pgettext_lazy("a role to", "代收审核")
RESUBMISSION_PENDING = ErrorCode(
    "resubmission_pending", Conflict, _("补正已提交，正在等待办理地处理")
)
NOT_AWAITING_CORRECTION = ErrorCode(
    "not_awaiting_correction", Conflict, _("办理地未要求补正，无需补正")
)
BAD_PAYLOAD = ErrorCode("bad_payload", InvalidInput, _("%(kind)s 消息格式不正确"))

# ---------------------------------------------------------------- 协办、转办

CASE_CLOSED = ErrorCode("case_closed", Conflict, _("办件已办结或不予受理，不能发起协办"))
DEPARTMENT_UNKNOWN = ErrorCode("department_unknown", InvalidInput, _("部门不存在"))
ASSIST_OWN_DEPARTMENT = ErrorCode(
    "assist_own_department", InvalidInput, _("协办部门不能是主办部门本身")
)
REQUEST_REQUIRED = ErrorCode("request_required", InvalidInput, _("请填写协办事项"))
REQUEST_TOO_LONG = ErrorCode("request_too_long", InvalidInput, _("协办事项不能超过2000字"))
DUE_DAYS_INVALID = ErrorCode("due_days_invalid", InvalidInput, _("协办时限应为1–60个工作日"))
SHARED_FIELD_UNKNOWN = ErrorCode(
    "shared_field_unknown", InvalidInput, _("申请表没有这些字段：%(names)s")
)
ASSIST_TASK_OPEN = ErrorCode(
    "assist_task_open", Conflict, _("已向%(department)s发起协办，尚未答复")
)
ASSIST_TASK_CLOSED = ErrorCode("assist_task_closed", Conflict, _("协办任务已答复"))
OUTCOME_INVALID = ErrorCode("outcome_invalid", InvalidInput, _("答复结果应为 done 或 declined"))
ANSWER_REQUIRED = ErrorCode("answer_required", InvalidInput, _("请填写协办意见"))
ANSWER_TOO_LONG = ErrorCode("answer_too_long", InvalidInput, _("协办意见不能超过2000字"))
NOTE_REQUIRED = ErrorCode("note_required", InvalidInput, _("请填写转办理由"))
NOTE_TOO_LONG = ErrorCode("note_too_long", InvalidInput, _("%(label)s不能超过2000字"))
# The %(label)s of note_too_long.
TRANSFER_NOTE = pgettext_lazy("must be short", "转办理由")
ESCALATION_NOTE = pgettext_lazy("must be short", "督办意见")
TRANSFER_SAME_DEPARTMENT = ErrorCode(
    "transfer_same_department", InvalidInput, _("不能转办给本部门")
)
TRANSFER_OTHER_PROVINCE = ErrorCode(
    "transfer_other_province", InvalidInput, _("转办限本省部门；跨省办理请走跨省通办")
)
NOTHING_TO_PICK_UP = ErrorCode("nothing_to_pick_up", Conflict, _("该办件没有待接收的转办"))

# ---------------------------------------------------------------- 督办

ALERT_CLOSED = ErrorCode("alert_closed", Conflict, _("该提醒已关闭，无需升级"))
ALERT_ABOVE_SCOPE = ErrorCode(
    "alert_above_scope", Conflict, _("该提醒已升级至上级督办，超出您的督办层级")
)
ALERT_AT_TOP = ErrorCode("alert_at_top", Conflict, _("该提醒已在最高督办层级"))
