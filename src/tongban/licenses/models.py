"""电子证照: licence types, which items issue them, issued licences, their events, issuer keys
and trusted regions (GB/T 36901–36905)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from tongban.cases.models import Case
from tongban.core.fsm import StateMachineMixin
from tongban.identity.models import Department, Enterprise


class HolderKind(models.TextChoices):
    CITIZEN = "citizen", "自然人"
    ENTERPRISE = "enterprise", "法人"


class HolderCodeType(models.TextChoices):
    """持证主体代码类型 (GB/T 36903)."""

    RESIDENT_ID = "111", "公民身份号码"
    USCC = "001", "统一社会信用代码"


class LicenseType(models.Model):
    """证照类型: defined nationally by one body, so a type code means the same everywhere."""

    code = models.CharField(
        "证照类型代码", max_length=21, unique=True, help_text="定义机构统一社会信用代码 + 3 位序号"
    )
    name = models.CharField("证照类型名称", max_length=100)
    defining_department_name = models.CharField("证照定义机构", max_length=100)
    defining_department_code = models.CharField("定义机构代码", max_length=18)
    holder_kind = models.CharField("持证主体类别", max_length=16, choices=HolderKind.choices)
    validity_years = models.PositiveSmallIntegerField(
        "有效期（年）", default=0, help_text="0 表示长期有效"
    )
    face_schema = models.JSONField(
        "照面信息结构",
        default=list,
        help_text='照面项列表：[{"name": "registered_capital", "title": "注册资本"}, …]',
    )
    is_synthetic = models.BooleanField(
        "演示数据", default=False, help_text="类型代码为演示用的合成值，非国家目录中的真实代码"
    )

    class Meta:
        verbose_name = "证照类型"
        verbose_name_plural = "证照类型"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class LicenseIssuance(models.Model):
    """Which implemented item (实施清单) produces which licence type, and how the licence's
    照面信息 is taken from the case: `field_mapping` maps each face field to a form field
    name, or to one of the case facts `@applicant_name`, `@case_number`, `@item_name`."""

    implementation_code = models.CharField("实施编码", max_length=31, unique=True)
    license_type = models.ForeignKey(
        LicenseType, on_delete=models.PROTECT, related_name="issuances", verbose_name="证照类型"
    )
    field_mapping = models.JSONField("照面信息取值", default=dict)

    class Meta:
        verbose_name = "出证规则"
        verbose_name_plural = "出证规则"
        ordering = ["implementation_code"]

    def __str__(self) -> str:
        return f"{self.implementation_code} → {self.license_type}"


class IssuerKey(models.Model):
    """A department's SM2 signing key (public half; the private half is a 0600 file under
    TONGBAN["KEY_DIR"]). Old keys stay listed so that licences they signed still verify."""

    key_id = models.CharField(
        "公钥标识", max_length=16, unique=True, help_text="SM3(公钥) 前 16 位"
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="license_keys", verbose_name="部门"
    )
    public_key = models.CharField("SM2 公钥", max_length=128)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "签发机关公钥"
        verbose_name_plural = "签发机关公钥"
        ordering = ["department_id", "created_at"]

    def __str__(self) -> str:
        return f"{self.department} {self.key_id}"


class LicenseStatus(models.TextChoices):
    VALID = "valid", "有效"
    SUSPENDED = "suspended", "暂停使用"
    REVOKED = "revoked", "已吊销（废止）"
    EXPIRED = "expired", "已过期"


class License(StateMachineMixin, models.Model):
    """电子证照: the signed licence data (canonical JSON) plus its state on this platform."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    identifier = models.CharField("证照标识", max_length=120, unique=True)
    license_type = models.ForeignKey(
        LicenseType, on_delete=models.PROTECT, related_name="licenses", verbose_name="证照类型"
    )
    # One licence per approved case: the constraint, not a check, makes issuance idempotent.
    case = models.OneToOneField(
        Case, on_delete=models.PROTECT, related_name="license", verbose_name="办件"
    )
    issuer = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="licenses", verbose_name="颁发机构"
    )
    issuer_key = models.ForeignKey(IssuerKey, on_delete=models.PROTECT, related_name="licenses")
    holder_kind = models.CharField("持证主体类别", max_length=16, choices=HolderKind.choices)
    holder_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="licenses",
    )
    holder_enterprise = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="licenses"
    )
    holder_name = models.CharField("持证主体", max_length=100)
    holder_code = models.CharField("持证主体代码", max_length=18)
    holder_code_type = models.CharField(
        "持证主体代码类型", max_length=3, choices=HolderCodeType.choices
    )
    issued_on = models.DateField("颁发日期")
    valid_until = models.DateField("有效期止", null=True, blank=True, help_text="空表示长期")
    data = models.TextField("证照数据（规范 JSON）")
    data_digest = models.CharField("数据摘要 (SM3)", max_length=64)
    signature = models.CharField("签名 (SM2, hex)", max_length=128)
    log_index = models.PositiveBigIntegerField("存证序号（签发事件在日志中的位置）")
    log_entry = models.TextField("签发事件（日志条目）")
    status = FSMField(
        "状态",
        max_length=16,
        choices=LicenseStatus.choices,
        default=LicenseStatus.VALID,
        protected=True,
    )
    status_reason = models.CharField("状态变更原因", max_length=500, blank=True)
    status_changed_at = models.DateTimeField("状态变更时间", null=True, blank=True)

    class Meta:
        verbose_name = "电子证照"
        verbose_name_plural = "电子证照"
        ordering = ["-issued_on", "identifier"]
        indexes = [
            models.Index(fields=["status", "valid_until"], name="license_expiry_idx"),
            models.Index(fields=["holder_user", "issued_on"], name="license_holder_idx"),
        ]

    def __str__(self) -> str:
        return self.identifier

    # States move only by these transitions (the issuing department's, and expiry).
    @transition(field=status, source=LicenseStatus.VALID, target=LicenseStatus.SUSPENDED)
    def suspend(self) -> None: ...

    @transition(field=status, source=LicenseStatus.SUSPENDED, target=LicenseStatus.VALID)
    def reinstate(self) -> None: ...

    @transition(
        field=status,
        source=[LicenseStatus.VALID, LicenseStatus.SUSPENDED, LicenseStatus.EXPIRED],
        target=LicenseStatus.REVOKED,
    )
    def revoke(self) -> None: ...

    @transition(
        field=status,
        source=[LicenseStatus.VALID, LicenseStatus.SUSPENDED],
        target=LicenseStatus.EXPIRED,
    )
    def expire(self) -> None: ...


class LicenseEventType(models.TextChoices):
    ISSUE = "issue", "签发"
    VERIFICATION = "verification", "验证"
    USE = "use", "亮证/用证"
    SUSPENSION = "suspension", "暂停使用"
    REINSTATEMENT = "reinstatement", "恢复使用"
    REVOCATION = "revocation", "吊销"
    EXPIRY = "expiry", "过期"


class LicenseEvent(models.Model):
    """One licence event, also appended to the ledger log "licenses" (存证). Append-only."""

    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="events")
    event_type = models.CharField("事件", max_length=16, choices=LicenseEventType.choices)
    occurred_at = models.DateTimeField("时间")
    actor_kind = models.CharField("操作方", max_length=16)
    reason = models.CharField("原因", max_length=500, blank=True)
    log_index = models.PositiveBigIntegerField("日志序号")

    class Meta:
        verbose_name = "证照事件"
        verbose_name_plural = "证照事件"
        ordering = ["license", "occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.license_id} {self.event_type}"


class TrustedRegion(models.Model):
    """Another region's trust list (its issuers' keys and log keys), imported so that its
    licences and licence files verify here (跨区域互认)."""

    region = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=100)
    trust_list = models.JSONField("信任列表")
    imported_at = models.DateTimeField("导入时间")

    class Meta:
        verbose_name = "互认地区信任列表"
        verbose_name_plural = "互认地区信任列表"
        ordering = ["region"]

    def __str__(self) -> str:
        return f"{self.name} ({self.region})"
