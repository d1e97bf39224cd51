"""The error codes of the catalog app, each named once with its one message (ADR 0020)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import ErrorCode, InvalidInput, NotFound

REGION_NOT_FOUND = ErrorCode("region_not_found", NotFound, _("区划 %(region)s 不存在"))
ITEM_NOT_FOUND = ErrorCode("item_not_found", NotFound, _("事项 %(code)s 不存在或未发布"))
BUNDLE_NOT_FOUND = ErrorCode("bundle_not_found", NotFound, _("一件事 %(code)s 不存在或未发布"))

# ---------------------------------------------------------------- items and their forms

COMMITTED_OVER_LEGAL = ErrorCode(
    "committed_over_legal", InvalidInput, _("承诺办结时限不能超过法定办结时限")
)
MATERIAL_ELEMENTS_INVALID = ErrorCode(
    "material_elements_invalid",
    InvalidInput,
    _("材料“%(material)s”的可替代数据元应为数据元编码列表，如 person.id_number"),
)
FORM_SCHEMA_INVALID = ErrorCode(
    "form_schema_invalid", InvalidInput, _("申请表结构无效：%(where)s：%(reason)s")
)
FORM_SCHEMA_REQUIRED_UNKNOWN = ErrorCode(
    "form_schema_required_unknown", InvalidInput, _("申请表结构无效：必填字段不存在：%(names)s")
)
FORM_SCHEMA_PATTERN_INVALID = ErrorCode(
    "form_schema_pattern_invalid",
    InvalidInput,
    _("申请表结构无效：%(name)s 的 pattern 不是合法正则"),
)
FORM_INVALID = ErrorCode("form_invalid", InvalidInput, _("申请表填写有误，请按提示修改"))
FORM_NOT_OBJECT = ErrorCode("form_not_object", InvalidInput, _("申请表数据应为对象"))

# ---------------------------------------------------------------- 一件事 (bundles)

BUNDLE_EMPTY = ErrorCode("bundle_empty", InvalidInput, _("发布的一件事至少包含一个事项"))
BUNDLE_ITEM_DUPLICATE = ErrorCode(
    "bundle_item_duplicate", InvalidInput, _("同一事项在一件事中只能出现一次")
)
BUNDLE_ITEM_UNPUBLISHED = ErrorCode(
    "bundle_item_unpublished", InvalidInput, _("事项尚未发布：%(items)s")
)
BUNDLE_DEPENDENCY_INVALID = ErrorCode(
    "bundle_dependency_invalid", InvalidInput, _("依赖关系引用了不在本一件事中的事项")
)
BUNDLE_DEPENDENCY_SELF = ErrorCode(
    "bundle_dependency_self", InvalidInput, _("事项“%(item)s”不能依赖自身")
)
BUNDLE_CYCLE = ErrorCode(
    "bundle_cycle", InvalidInput, _("事项依赖存在循环，无法确定办理顺序：%(path)s")
)
BUNDLE_OUTPUT_INVALID = ErrorCode(
    "bundle_output_invalid",
    InvalidInput,
    _("“%(item)s”的申请表中没有标注数据元 %(element)s 的字段"),
)
BUNDLE_OUTPUT_CODE_INVALID = ErrorCode(
    "bundle_output_code_invalid", InvalidInput, _("输出数据元编码无效：%(element)s")
)
BUNDLE_OUTPUT_UNAVAILABLE = ErrorCode(
    "bundle_output_unavailable", InvalidInput, _("“%(item)s”不能提供数据元 %(element)s")
)

# 情形引导: the questions, the conditions of the items, the applicant's answers
BUNDLE_QUESTION_INVALID = ErrorCode(
    "bundle_question_invalid",
    InvalidInput,
    _("单选问题“%(question)s”至少需要两个互不相同的非空选项"),
)
BUNDLE_QUESTION_CODE_INVALID = ErrorCode(
    "bundle_question_code_invalid",
    InvalidInput,
    _("情形问题编码无效：%(code)s（小写字母开头，仅含小写字母、数字、下划线）"),
)
BUNDLE_QUESTION_CODE_DUPLICATE = ErrorCode(
    "bundle_question_code_duplicate", InvalidInput, _("情形问题编码重复：%(code)s")
)
BUNDLE_QUESTION_TEXT_MISSING = ErrorCode(
    "bundle_question_text_missing", InvalidInput, _("情形问题 %(code)s 缺少问题文字")
)
BUNDLE_QUESTION_OPTIONS_UNEXPECTED = ErrorCode(
    "bundle_question_options_unexpected", InvalidInput, _("是/否问题“%(question)s”不应另设选项")
)
BUNDLE_QUESTION_KIND_INVALID = ErrorCode(
    "bundle_question_kind_invalid", InvalidInput, _("情形问题类型无效：%(kind)s")
)
BUNDLE_CONDITION_INVALID = ErrorCode(
    "bundle_condition_invalid",
    InvalidInput,
    _("“%(item)s”的适用条件引用了问题 %(question)s 不存在的选项：%(unknown)s（可选：%(choices)s）"),
)
BUNDLE_CONDITION_UNKNOWN_QUESTION = ErrorCode(
    "bundle_condition_unknown_question",
    InvalidInput,
    _("“%(item)s”的适用条件引用了不存在的情形问题：%(question)s"),
)
BUNDLE_CONDITION_NO_OPTIONS = ErrorCode(
    "bundle_condition_no_options",
    InvalidInput,
    _("“%(item)s”的适用条件应列出问题 %(question)s 的适用选项"),
)
BUNDLE_CONDITION_NOT_OBJECT = ErrorCode(
    "bundle_condition_not_object", InvalidInput, _("“%(item)s”的适用条件应为对象")
)
BUNDLE_CONDITION_COUNT = ErrorCode(
    "bundle_condition_count", InvalidInput, _("适用条件的数量应与事项一致")
)
BUNDLE_CONDITION_INCONSISTENT = ErrorCode(
    "bundle_condition_inconsistent",
    InvalidInput,
    _(
        "“%(downstream)s”依赖“%(upstream)s”，但在某些情形下只办理前者："
        "请让“%(downstream)s”的适用条件包含“%(upstream)s”的适用条件"
    ),
)
SITUATION_INVALID = ErrorCode("situation_invalid", InvalidInput, _("请先回答情形引导问题"))
