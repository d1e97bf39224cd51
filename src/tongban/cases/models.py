"""Applications (申请) and cases (办件) with their state machine and append-only history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from tongban.catalog.models import ServiceItem, ServiceItemVersion
from tongban.identity.models import Department, Enterprise


class CaseStatus(models.TextChoices):
    SUBMITTED = "submitted", "已提交"
    CORRECTION_REQUESTED = "correction_requested", "待补正"
    RESUBMITTED = "resubmitted", "已补正"
    ACCEPTED = "accepted", "已受理"
    REJECTED = "rejected", "不予受理"
    UNDER_REVIEW = "under_review", "审查中"
    APPROVED = "approved", "准予许可"
    DENIED = "denied", "不予许可"
    COMPLETED = "completed", "已办结"


class Application(models.Model):
    """申请: what the applicant submitted, once (idempotent per applicant and key)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applications"
    )
    # Snapshot of who applied, as verified at submission (real name; ID number; phone).
    applicant_name = models.CharField("申请人", max_length=100)
    applicant_id_number = models.CharField("证件号码", max_length=18)
    applicant_phone = models.CharField("联系电话", max_length=11, blank=True)
    enterprise = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )
    form_data = models.JSONField("申请表", default=dict)
    submitted_at = models.DateTimeField("提交时间")
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 — NULL: no key, never unique-clashes
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "申请"
        verbose_name_plural = "申请"
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "idempotency_key"], name="application_idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"申请 {self.pk}"


class MaterialSubmission(models.Model):
    """A material provided with an application: the stored file and its digests."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="materials")
    material_code = models.CharField("材料编码", max_length=20)
    material_name = models.CharField("材料名称", max_length=200)
    original_name = models.CharField("文件名", max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    sm3 = models.CharField(max_length=64)
    file = models.FileField(upload_to="materials/%Y/%m/")
    uploaded_at = models.DateTimeField()

    class Meta:
        verbose_name = "提交材料"
        verbose_name_plural = "提交材料"
        ordering = ["application", "material_code", "uploaded_at"]

    def __str__(self) -> str:
        return f"{self.material_name} ({self.sha256[:12]})"


class SharedDataEvidence(models.Model):
    """What shared data stood in for on an application (零材料): a material derived, or a form
    field filled and verified, from a registry through a recorded exchange lookup."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="shared_data"
    )
    material_code = models.CharField("材料编码", max_length=20, blank=True)
    field_name = models.CharField("表单字段", max_length=50, blank=True)
    title = models.CharField("材料或字段名称", max_length=200)
    registry_name = models.CharField("基础库", max_length=100)
    elements = models.JSONField("数据元", default=list)
    data_use_records = models.JSONField("数据使用记录", default=list)
    verified_at = models.DateTimeField("核验时间")

    class Meta:
        verbose_name = "共享数据核验"
        verbose_name_plural = "共享数据核验"
        ordering = ["application", "material_code", "field_name"]

    def __str__(self) -> str:
        return f"已通过{self.registry_name}核验：{self.title}"


class Case(models.Model):
    """办件: one department's handling of one application."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case_number = models.CharField("办件编号", max_length=50, unique=True)
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="cases")
    item = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="cases")
    item_version = models.ForeignKey(
        ServiceItemVersion, on_delete=models.PROTECT, related_name="cases"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="cases")
    division_code = models.CharField("办理区划", max_length=12, db_index=True)
    status = FSMField(
        "状态", default=CaseStatus.SUBMITTED, choices=CaseStatus.choices, protected=True
    )
    submitted_at = models.DateTimeField("提交时间")
    accepted_on = models.DateField("受理日期", null=True, blank=True)
    committed_deadline = models.DateField("承诺办结期限", null=True, blank=True)
    legal_deadline = models.DateField("法定办结期限", null=True, blank=True)
    committed_deadline_is_estimated = models.BooleanField(
        "承诺期限为推算（跨入无官方节假日数据的年份）", default=False
    )
    legal_deadline_is_estimated = models.BooleanField("法定期限为推算", default=False)
    warning_on = models.DateField(
        "黄灯日期", null=True, blank=True, help_text="承诺时限用去80%（可配置）的那个工作日"
    )
    completed_at = models.DateTimeField("办结时间", null=True, blank=True)
    correction_note = models.TextField("补正告知", blank=True)
    version = models.PositiveIntegerField(default=0, help_text="乐观锁：每次状态变更加一")

    class Meta:
        verbose_name = "办件"
        verbose_name_plural = "办件"
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["department", "status"], name="case_queue_idx")]

    def __str__(self) -> str:
        return self.case_number

    # The state machine. Each method only moves `status`; services.case_transition does the
    # rest (who may, history, deadline, audit) in one transaction.
    @transition(
        field=status,
        source=[CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED],
        target=CaseStatus.ACCEPTED,
    )
    def accept(self) -> None: ...

    @transition(
        field=status,
        source=[CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED],
        target=CaseStatus.REJECTED,
    )
    def reject(self) -> None: ...

    @transition(
        field=status,
        source=[CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED],
        target=CaseStatus.CORRECTION_REQUESTED,
    )
    def request_correction(self) -> None: ...

    @transition(field=status, source=CaseStatus.CORRECTION_REQUESTED, target=CaseStatus.RESUBMITTED)
    def resubmit(self) -> None: ...

    @transition(field=status, source=CaseStatus.ACCEPTED, target=CaseStatus.UNDER_REVIEW)
    def start_review(self) -> None: ...

    @transition(field=status, source=CaseStatus.UNDER_REVIEW, target=CaseStatus.APPROVED)
    def approve(self) -> None: ...

    @transition(field=status, source=CaseStatus.UNDER_REVIEW, target=CaseStatus.DENIED)
    def deny(self) -> None: ...

    @transition(
        field=status, source=[CaseStatus.APPROVED, CaseStatus.DENIED], target=CaseStatus.COMPLETED
    )
    def complete(self) -> None: ...


class CaseTransition(models.Model):
    """办理过程: one step of a case's history (append-only)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="transitions")
    action = models.CharField("动作", max_length=32)
    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_role = models.CharField("角色", max_length=16)
    comment = models.TextField("意见", blank=True)
    occurred_at = models.DateTimeField("时间")

    class Meta:
        verbose_name = "办理过程"
        verbose_name_plural = "办理过程"
        ordering = ["case", "occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} → {self.to_status}"


class CaseNumberCounter(models.Model):
    """Daily sequence per item for case numbers (实施编码 + 日期 + 序号), O(1) per case."""

    prefix = models.CharField(max_length=40, primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}:{self.last}"
