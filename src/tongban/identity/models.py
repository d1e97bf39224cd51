"""Who acts on the platform: citizens, enterprises and their agents, departments and staff."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tongban.core.models import Division


class Department(models.Model):
    """部门: an agency identified by its 统一社会信用代码, seated in one division."""

    code = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("名称", max_length=100)
    division = models.ForeignKey(Division, verbose_name="所在区划", on_delete=models.PROTECT)

    class Meta:
        verbose_name = "部门"
        verbose_name_plural = "部门"
        ordering = ["division_id", "name"]

    def __str__(self) -> str:
        return self.name


class Citizen(models.Model):
    """自然人: a real-name account (validated resident ID number)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="citizen"
    )
    real_name = models.CharField("姓名", max_length=50)
    id_number = models.CharField("身份证号码", max_length=18, unique=True)
    phone = models.CharField("手机号码", max_length=11, unique=True)

    class Meta:
        verbose_name = "自然人"
        verbose_name_plural = "自然人"

    def __str__(self) -> str:
        from tongban.core.masking import mask

        return mask(self.real_name, "name")


class Enterprise(models.Model):
    """法人: identified by its 统一社会信用代码."""

    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("名称", max_length=100)
    legal_representative = models.CharField("法定代表人", max_length=50)

    class Meta:
        verbose_name = "法人"
        verbose_name_plural = "法人"

    def __str__(self) -> str:
        return self.name


class EnterpriseAgent(models.Model):
    """经办人: a citizen authorised to act for an enterprise."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="agents")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="agencies")
    is_active = models.BooleanField("有效", default=True)

    class Meta:
        verbose_name = "经办人"
        verbose_name_plural = "经办人"
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "citizen"], name="agent_unique")
        ]

    def __str__(self) -> str:
        return f"{self.enterprise} 经办人 #{self.citizen_id}"


class StaffRole(models.TextChoices):
    INTAKE = "intake", "受理"
    REVIEW = "review", "审查"
    DECISION = "decision", "决定"
    ADMIN = "admin", "管理"
    SECURITY = "security", "安全审计"
    SUPERVISE = "supervise", "督办"


class StaffMember(models.Model):
    """工作人员: works for one department and acts within one division subtree."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_member"
    )
    real_name = models.CharField("姓名", max_length=50)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="staff")
    scope = models.ForeignKey(
        Division,
        verbose_name="管辖区划",
        on_delete=models.PROTECT,
        help_text="可办理该区划及其下级区划的办件",
    )
    roles = models.JSONField("角色", default=list, help_text='例如 ["intake", "review"]')

    class Meta:
        verbose_name = "工作人员"
        verbose_name_plural = "工作人员"

    def __str__(self) -> str:
        return f"{self.real_name} ({self.department})"

    def has_role(self, role: str) -> bool:
        return role in self.roles


class SmsMessage(models.Model):
    """Outbox of the demo SMS channel (短信发件箱): what would have been sent."""

    phone = models.CharField(max_length=11)
    text = models.CharField(max_length=300)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "短信发件箱"
        verbose_name_plural = "短信发件箱"
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"短信 {self.sent_at:%Y-%m-%d %H:%M}"


class OneTimeCode(models.Model):
    """A login code sent by SMS; stored hashed, with an expiry and an attempt budget."""

    phone = models.CharField(max_length=11, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    purpose = models.CharField(max_length=10, default="login")
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"验证码 #{self.pk}"


class ApiToken(models.Model):
    """Bearer token for the JSON API; only its SM3 digest is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "API 令牌"
        verbose_name_plural = "API 令牌"

    def __str__(self) -> str:
        return f"令牌 #{self.pk}"
