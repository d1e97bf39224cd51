"""数据共享交换: registries (基础库), data elements (数据元, the resource catalog), grants
(共享授权), consents (用户授权), system credentials, the data-use record and security alerts.

The built-in database registries (population, legal entities, social security) keep their rows
here; remote registries are reached through `registries.HttpRegistry`, the licence library
through whatever provider the licences app registers.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from tongban.core.fsm import StateMachineMixin
from tongban.identity.models import Department


class ClassificationLevel(models.TextChoices):
    """数据分级 (数据安全法 第21条; GB/T 43697-2024)."""

    GENERAL = "general", "一般数据"
    IMPORTANT = "important", "重要数据"
    CORE = "core", "核心数据"


class RegistryKind(models.TextChoices):
    DATABASE = "database", "本地数据库"
    HTTP = "http", "远程接口"
    PROVIDER = "provider", "应用接入（如电子证照库）"


class SubjectType(models.TextChoices):
    PERSON = "person", "自然人（公民身份号码）"
    ENTERPRISE = "enterprise", "法人（统一社会信用代码）"


class Registry(models.Model):
    """基础库: population, legal entities, social security, licence library, or a remote one."""

    code = models.CharField("编码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    department = models.ForeignKey(
        Department, verbose_name="责任部门", on_delete=models.PROTECT, related_name="registries"
    )
    kind = models.CharField("接入方式", max_length=10, choices=RegistryKind.choices)
    subject_type = models.CharField("数据主体", max_length=10, choices=SubjectType.choices)
    base_url = models.URLField("接口地址", blank=True, help_text="远程基础库的接口根地址")
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "基础库"
        verbose_name_plural = "基础库"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class MaskKind(models.TextChoices):
    """How a masked answer shows the value (core.masking kinds, or withheld entirely)."""

    NONE = "", "不脱敏"
    NAME = "name", "姓名"
    ID_NUMBER = "id_number", "身份证号"
    ADDRESS = "address", "地址"
    USCC = "uscc", "统一社会信用代码"
    PHONE = "phone", "手机号"
    WITHHOLD = "withhold", "不返回值（仅可核验）"


class DataElement(models.Model):
    """数据元: one shared field, owned by one department (一数一源)."""

    code = models.CharField("编码", max_length=60, unique=True, help_text="如 person.birth_date")
    name = models.CharField("名称", max_length=60)
    registry = models.ForeignKey(
        Registry, verbose_name="基础库", on_delete=models.PROTECT, related_name="elements"
    )
    level = models.CharField("分级", max_length=10, choices=ClassificationLevel.choices)
    mask_kind = models.CharField(
        "脱敏方式", max_length=10, choices=MaskKind.choices, blank=True, default=""
    )
    freshness_hours = models.PositiveIntegerField(
        "更新频率承诺（小时）", help_text="数据更新时间距今不超过该时长视为新鲜"
    )
    description = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "数据元"
        verbose_name_plural = "数据元（资源目录）"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class PopulationRecord(models.Model):
    """人口库 row (synthetic in the demo)."""

    id_number = models.CharField("公民身份号码", max_length=18, unique=True)
    name = models.CharField("姓名", max_length=50)
    birth_date = models.DateField("出生日期")
    gender = models.CharField("性别", max_length=2)
    household_address = models.CharField("户籍地址", max_length=200)
    marital_status = models.CharField("婚姻状况", max_length=10)
    updated_at = models.DateTimeField("数据更新时间")

    class Meta:
        verbose_name = "人口库记录"
        verbose_name_plural = "人口库记录"

    def __str__(self) -> str:
        return f"人口库 #{self.pk}"


class LegalEntityRecord(models.Model):
    """法人库 row."""

    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("名称", max_length=100)
    legal_representative = models.CharField("法定代表人", max_length=50)
    registered_capital = models.DecimalField("注册资本（万元）", max_digits=14, decimal_places=2)
    industry_code = models.CharField("行业代码 (GB/T 4754)", max_length=5)
    status = models.CharField("登记状态", max_length=10)
    updated_at = models.DateTimeField("数据更新时间")

    class Meta:
        verbose_name = "法人库记录"
        verbose_name_plural = "法人库记录"

    def __str__(self) -> str:
        return f"法人库 #{self.pk}"


class SocialSecurityRecord(models.Model):
    """社保库 row: a person's pension insurance status."""

    id_number = models.CharField("公民身份号码", max_length=18, unique=True)
    status = models.CharField("参保状态", max_length=10)
    insured_since = models.DateField("参保日期", null=True, blank=True)
    updated_at = models.DateTimeField("数据更新时间")

    class Meta:
        verbose_name = "社保库记录"
        verbose_name_plural = "社保库记录"

    def __str__(self) -> str:
        return f"社保库 #{self.pk}"


class GrantStatus(models.TextChoices):
    REQUESTED = "requested", "待审批"
    APPROVED = "approved", "已批准"
    REFUSED = "refused", "已拒绝"
    REVOKED = "revoked", "已撤销"


class Grant(StateMachineMixin, models.Model):
    """共享授权: a department may use an owner's elements for one purpose (a service item)."""

    department = models.ForeignKey(
        Department, verbose_name="申请部门", on_delete=models.PROTECT, related_name="grants"
    )
    registry = models.ForeignKey(
        Registry, verbose_name="基础库", on_delete=models.PROTECT, related_name="grants"
    )
    purpose = models.CharField("用途（事项实施编码）", max_length=40)
    elements = models.JSONField("数据元", default=list)
    plain_elements = models.JSONField(
        "需明文的数据元", default=list, blank=True, help_text="用途确需明文的数据元，须说明理由"
    )
    reason = models.TextField("申请理由")
    status = FSMField(
        "状态",
        max_length=10,
        choices=GrantStatus.choices,
        default=GrantStatus.REQUESTED,
        protected=True,
    )
    requested_by = models.CharField("申请人", max_length=150)
    requested_at = models.DateTimeField("申请时间")
    decided_by = models.CharField("审批人", max_length=150, blank=True)
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    decision_note = models.TextField("审批意见", blank=True)
    expires_at = models.DateTimeField("有效期至", null=True, blank=True)

    class Meta:
        verbose_name = "共享授权"
        verbose_name_plural = "共享授权"
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["department", "purpose", "status"], name="grant_lookup_idx")
        ]

    def __str__(self) -> str:
        return f"授权 #{self.pk} {self.purpose}"

    @transition(field=status, source=GrantStatus.REQUESTED, target=GrantStatus.APPROVED)
    def approve(self) -> None: ...

    @transition(field=status, source=GrantStatus.REQUESTED, target=GrantStatus.REFUSED)
    def refuse(self) -> None: ...


class Consent(models.Model):
    """用户授权: the data subject lets an item's department use these elements for prefill."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_consents"
    )
    subject_key = models.CharField("数据主体（化名）", max_length=64, db_index=True)
    purpose = models.CharField("用途（事项实施编码）", max_length=40)
    elements = models.JSONField("数据元", default=list)
    given_at = models.DateTimeField("授权时间")
    expires_at = models.DateTimeField("有效期至")
    revoked_at = models.DateTimeField("撤回时间", null=True, blank=True)

    class Meta:
        verbose_name = "用户授权"
        verbose_name_plural = "用户授权"
        ordering = ["-given_at"]

    def __str__(self) -> str:
        return f"用户授权 #{self.pk} {self.purpose}"


class SystemCredential(models.Model):
    """A department system's API key for the gateway; only its HMAC-SM3 digest is stored."""

    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="system_credentials"
    )
    name = models.CharField("系统名称", max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    is_active = models.BooleanField("有效", default=True)

    class Meta:
        verbose_name = "接入系统密钥"
        verbose_name_plural = "接入系统密钥"

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"


class LookupKind(models.TextChoices):
    LOOKUP = "lookup", "查询"
    VERIFY = "verify", "核验"
    PREFILL = "prefill", "申报预填（本人授权）"


class LookupOutcome(models.TextChoices):
    ANSWERED = "answered", "已返回"
    NOT_FOUND = "not_found", "未查到"
    REFUSED = "refused", "已拒绝"
    FAILED = "failed", "基础库不可用"


class DataUseRecord(models.Model):
    """数据使用记录: one lookup, answered or refused. The subject is kept as a keyed SM3
    pseudonym (for the citizen's own view) plus a masked form; never the plain number."""

    occurred_at = models.DateTimeField("时间")
    kind = models.CharField("类型", max_length=10, choices=LookupKind.choices)
    caller = models.CharField("调用方", max_length=150, help_text="system:<id> 或 staff:<id>")
    department = models.ForeignKey(
        Department,
        verbose_name="调用部门",
        null=True,
        on_delete=models.PROTECT,
        related_name="data_use_records",
    )
    registry = models.ForeignKey(
        Registry, null=True, on_delete=models.PROTECT, related_name="data_use_records"
    )
    subject_key = models.CharField("数据主体（化名）", max_length=64)
    subject_masked = models.CharField("数据主体（脱敏）", max_length=32)
    elements = models.JSONField("数据元", default=list)
    purpose = models.CharField("用途", max_length=40)
    case_id = models.CharField("办件", max_length=64, blank=True)
    case_number = models.CharField("办件编号", max_length=50, blank=True)
    outcome = models.CharField("结果", max_length=10, choices=LookupOutcome.choices)
    refusal_code = models.CharField("原因代码", max_length=40, blank=True)
    refusal_message = models.CharField("原因", max_length=300, blank=True)
    unmasked = models.BooleanField("返回明文", default=False)
    is_fresh = models.BooleanField("数据在更新承诺期内", default=False)

    class Meta:
        verbose_name = "数据使用记录"
        verbose_name_plural = "数据使用记录"
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["subject_key", "occurred_at"], name="data_use_subject_idx"),
            models.Index(fields=["caller", "occurred_at"], name="data_use_caller_idx"),
            models.Index(fields=["registry", "department"], name="data_use_availability_idx"),
        ]

    def __str__(self) -> str:
        return f"数据使用 #{self.pk} {self.outcome}"


class AlertRule(models.TextChoices):
    RATE = "rate", "查询频次超限"
    OFF_HOURS = "off_hours", "非工作时间查询"
    NO_OPEN_CASE = "no_open_case", "查询未关联在办办件"
    BULK_UNMASKING = "bulk_unmasking", "批量明文查询"


class SecurityAlert(models.Model):
    """安全告警 raised by a monitoring rule, with its evidence (record ids, counts)."""

    rule = models.CharField("规则", max_length=20, choices=AlertRule.choices)
    caller = models.CharField("调用方", max_length=150)
    department = models.ForeignKey(
        Department, null=True, on_delete=models.PROTECT, related_name="security_alerts"
    )
    raised_at = models.DateTimeField("告警时间")
    evidence = models.JSONField("证据", default=dict)
    dedupe_key = models.CharField(max_length=200, unique=True)
    acknowledged_by = models.CharField("处理人", max_length=150, blank=True)
    acknowledged_at = models.DateTimeField("处理时间", null=True, blank=True)

    class Meta:
        verbose_name = "安全告警"
        verbose_name_plural = "安全告警"
        ordering = ["-raised_at", "-id"]

    def __str__(self) -> str:
        return f"告警 #{self.pk} {self.rule}"
