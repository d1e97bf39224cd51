"""Applications (申请) and cases (办件) with their state machine and append-only history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django_fsm import RETURN_VALUE, FSMField, transition

from tongban.catalog.models import ServiceItem, ServiceItemVersion
from tongban.core.fsm import StateMachineMixin
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
    # 一件事: a child case waiting for the results of the items it depends on (ADR 0012).
    WAITING = "waiting", "待前序事项办结"


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


class Case(StateMachineMixin, models.Model):
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

    # 一件事: the items this child depends on are done; it enters its department's queue.
    @transition(field=status, source=CaseStatus.WAITING, target=CaseStatus.SUBMITTED)
    def release(self) -> None: ...


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


# ---- collaboration and supervision ----


class AssistTaskStatus(models.TextChoices):
    OPEN = "open", "待办"
    DONE = "done", "已办结"
    DECLINED = "declined", "已退回"


class AssistTask(StateMachineMixin, models.Model):
    """协办任务: the lead (主办) department asks an assisting (协办) department for one answer.

    The assisting department sees the task, the case summary and the form fields the lead chose
    to share — never the whole case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="assist_tasks")
    lead_department = models.ForeignKey(
        Department, verbose_name="主办部门", on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        Department, verbose_name="协办部门", on_delete=models.PROTECT, related_name="assist_tasks"
    )
    request = models.TextField("协办事项")
    shared_fields = models.JSONField("共享的申请表字段", default=list, blank=True)
    due_days = models.PositiveSmallIntegerField("办理时限（工作日）")
    due_on = models.DateField("协办期限")
    status = FSMField(
        "状态",
        max_length=10,
        choices=AssistTaskStatus.choices,
        default=AssistTaskStatus.OPEN,
        protected=True,
    )
    answer = models.TextField("协办意见", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("发起时间")
    picked_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    picked_up_at = models.DateTimeField("签收时间", null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField("答复时间", null=True, blank=True)

    class Meta:
        verbose_name = "协办任务"
        verbose_name_plural = "协办任务"
        ordering = ["due_on", "created_at"]
        indexes = [models.Index(fields=["department", "status"], name="assist_task_queue_idx")]
        constraints = [
            # One open request per case and assisting department: a repeated request is a
            # conflict, not a second task.
            models.UniqueConstraint(
                fields=["case", "department"],
                condition=models.Q(status="open"),
                name="assist_task_one_open_per_department",
            )
        ]

    def __str__(self) -> str:
        return f"协办 #{self.pk} {self.department}"

    @transition(field=status, source=AssistTaskStatus.OPEN, target=AssistTaskStatus.DONE)
    def complete(self) -> None:
        """答复: the assisting department answered."""

    @transition(field=status, source=AssistTaskStatus.OPEN, target=AssistTaskStatus.DECLINED)
    def decline(self) -> None:
        """退回: the assisting department declined, with its reason."""


class HandoffKind(models.TextChoices):
    ASSIST_REQUESTED = "assist_requested", "发起协办"
    ASSIST_PICKED_UP = "assist_picked_up", "签收协办"
    ASSIST_ANSWERED = "assist_answered", "答复协办"
    CASE_TRANSFERRED = "case_transferred", "转办"
    TRANSFER_PICKED_UP = "transfer_picked_up", "接收转办"


class Handoff(models.Model):
    """交接记录: every hand-off between departments (append-only, also in the case timeline)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="handoffs")
    kind = models.CharField("类型", max_length=24, choices=HandoffKind.choices)
    from_department = models.ForeignKey(
        Department, verbose_name="交出部门", on_delete=models.PROTECT, related_name="+"
    )
    to_department = models.ForeignKey(
        Department, verbose_name="接收部门", on_delete=models.PROTECT, related_name="+"
    )
    assist_task = models.ForeignKey(
        AssistTask, null=True, blank=True, on_delete=models.PROTECT, related_name="handoffs"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField("说明", blank=True)
    occurred_at = models.DateTimeField("时间")
    # Set on a transfer when the receiving department takes the case (not picked up → 中梗阻).
    picked_up_at = models.DateTimeField("接收时间", null=True, blank=True)

    class Meta:
        verbose_name = "交接记录"
        verbose_name_plural = "交接记录"
        ordering = ["case", "occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.from_department} → {self.to_department}"


class ThresholdUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", "工作小时"
    WORKING_DAYS = "working_days", "工作日"


class StuckStep(models.TextChoices):
    """Steps that wait on a department, each with a threshold (中梗阻)."""

    SUBMITTED = "submitted", "已提交未受理"
    RESUBMITTED = "resubmitted", "已补正未受理"
    ACCEPTED = "accepted", "已受理未审查"
    UNDER_REVIEW = "under_review", "审查中未决定"
    APPROVED = "approved", "已准予未办结"
    DENIED = "denied", "不予许可未办结"
    ASSIST_PICKUP = "assist_pickup", "协办任务未签收"
    HANDOFF_PICKUP = "handoff_pickup", "转办未接收"


class StuckThreshold(models.Model):
    """中梗阻阈值: how long a step may wait, in working hours or working days."""

    step = models.CharField("环节", max_length=24, choices=StuckStep.choices, unique=True)
    amount = models.PositiveSmallIntegerField("时长")
    unit = models.CharField("单位", max_length=16, choices=ThresholdUnit.choices)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "中梗阻阈值"
        verbose_name_plural = "中梗阻阈值"
        ordering = ["step"]

    def __str__(self) -> str:
        return f"{self.get_step_display()}: {self.amount} {self.get_unit_display()}"


class AlertKind(models.TextChoices):
    STUCK = "stuck", "中梗阻"
    ASSIST_OVERDUE = "assist_overdue", "协办超期"
    DEADLINE_YELLOW = "deadline_yellow", "临近期限（黄灯）"
    DEADLINE_RED = "deadline_red", "已超期（红灯）"


class StuckAlert(models.Model):
    """督办提醒: a step waiting too long, or a case turning yellow/red.

    At most one open alert per case and step (`step_key`); it closes by itself when the case
    moves on. Supervisors escalate it one division level up at a time."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField("类型", max_length=16, choices=AlertKind.choices)
    # A StuckStep value for a stuck step, otherwise the kind (deadline_yellow, …).
    step = models.CharField("环节类型", max_length=24)
    step_key = models.CharField("环节键", max_length=40)
    step_label = models.CharField("环节", max_length=100)
    department = models.ForeignKey(
        Department, verbose_name="主办部门", on_delete=models.PROTECT, related_name="alerts"
    )
    division_code = models.CharField("办理区划", max_length=12, db_index=True)
    waiting_since = models.DateTimeField("等待起始")
    raised_at = models.DateTimeField("提醒时间")
    level = models.ForeignKey(
        "core.Division", verbose_name="督办层级", on_delete=models.PROTECT, related_name="+"
    )
    escalation_count = models.PositiveSmallIntegerField("升级次数", default=0)
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    close_reason = models.CharField("关闭原因", max_length=100, blank=True)

    class Meta:
        verbose_name = "督办提醒"
        verbose_name_plural = "督办提醒"
        ordering = ["waiting_since", "id"]
        indexes = [
            models.Index(fields=["division_code", "closed_at"], name="alert_scope_idx"),
            models.Index(fields=["department", "closed_at"], name="alert_department_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "step_key"],
                condition=models.Q(closed_at__isnull=True),
                name="alert_one_open_per_step",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.step_label}"


class AlertEscalation(models.Model):
    """督办升级: an alert passed one division level up, by a supervisor (append-only)."""

    alert = models.ForeignKey(StuckAlert, on_delete=models.PROTECT, related_name="escalations")
    from_level = models.ForeignKey("core.Division", on_delete=models.PROTECT, related_name="+")
    to_level = models.ForeignKey("core.Division", on_delete=models.PROTECT, related_name="+")
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField("督办意见", blank=True)
    escalated_at = models.DateTimeField("升级时间")

    class Meta:
        verbose_name = "督办升级"
        verbose_name_plural = "督办升级"
        ordering = ["alert", "escalated_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_level_id} → {self.to_level_id}"


# ---- 跨省通办 (cross-region receiving and handling, cases/crossregion.py) ----


class ReceivedStage(models.TextChoices):
    RECEIVED = "received", "待代收审核"
    REFUSED = "refused", "代收未通过"
    HANDED_OVER = "handed_over", "已移交办理地"
    DECLINED = "declined", "办理地未受理"
    IN_HANDLING = "in_handling", "办理地办理中"


class HandlingStages(StateMachineMixin):
    """The stages of a received application, or of one part of a joint one: checked here, then
    handed over, then declined or in handling as the handling region reports."""

    @transition(field="stage", source=ReceivedStage.RECEIVED, target=ReceivedStage.HANDED_OVER)
    def hand_over(self) -> None: ...

    @transition(field="stage", source=ReceivedStage.RECEIVED, target=ReceivedStage.REFUSED)
    def refuse(self) -> None: ...

    @transition(field="stage", source=ReceivedStage.HANDED_OVER, target=ReceivedStage.DECLINED)
    def decline(self) -> None: ...

    @transition(
        field="stage",
        source=[ReceivedStage.HANDED_OVER, ReceivedStage.IN_HANDLING],
        target=ReceivedStage.IN_HANDLING,
    )
    def report(self) -> None: ...

    @transition(
        field="stage",
        source=[ReceivedStage.HANDED_OVER, ReceivedStage.IN_HANDLING, ReceivedStage.DECLINED],
        target=RETURN_VALUE(
            ReceivedStage.HANDED_OVER, ReceivedStage.IN_HANDLING, ReceivedStage.DECLINED
        ),
    )
    def derive(self, stage: str) -> str:
        """多地联办: the application's own stage, derived from its parts'."""
        return stage


class ReceivedApplication(HandlingStages, models.Model):
    """代收件: an application received in this region for an item handled in another."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="received_applications"
    )
    receiving_region = models.CharField("代收地", max_length=12)
    handling_region = models.CharField("办理地", max_length=12)
    item_code = models.CharField("事项实施编码", max_length=64)
    item_name = models.CharField("事项名称", max_length=200)
    form_data = models.JSONField("申请表")
    materials = models.JSONField("材料 (名称、摘要、内容)")
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    stage = FSMField(
        "代收状态",
        max_length=16,
        choices=ReceivedStage.choices,
        default=ReceivedStage.RECEIVED,
        protected=True,
    )
    checked_by = models.CharField("代收审核人", max_length=150, blank=True)
    checked_at = models.DateTimeField("代收审核时间", null=True, blank=True)
    note = models.TextField("说明", blank=True)
    remote_case_id = models.CharField("办理地办件", max_length=64, blank=True)
    remote_case_number = models.CharField("办理地办件编号", max_length=50, blank=True)
    remote_status = models.CharField("办理地状态", max_length=24, blank=True)
    last_sequence = models.PositiveIntegerField(default=0)
    # The status messages applied, by number: each once, whatever order they arrive in.
    sequences_applied = models.JSONField("已应用的状态消息", default=list, blank=True)
    timeline = models.JSONField("办理过程", default=list)
    created_at = models.DateTimeField("代收时间")

    class Meta:
        verbose_name = "代收件"
        verbose_name_plural = "代收件"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "idempotency_key"], name="received_once_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item_name} → {self.handling_region}"


class CrossRegionOrigin(models.Model):
    """跨省来件: in the handling region, the case came from another region's receiving desk."""

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="cross_region_origin")
    receiving_region = models.CharField("代收地", max_length=12)
    received_id = models.UUIDField("代收件编号")
    # 多地联办: which part of the received application this case handles (1 when single).
    part = models.PositiveSmallIntegerField("联办部分", default=1)
    sequence = models.PositiveIntegerField("已同步次数", default=0)
    # The last step of the case's history reported to the receiving region (a CaseTransition
    # pk): the status report sends every later step once, in order.
    reported_through = models.PositiveBigIntegerField("已同步至办理过程", null=True, blank=True)
    # 补正 answered from the receiving region: the last resubmission applied (idempotency).
    last_resubmission_id = models.UUIDField("最近补正编号", null=True, blank=True)

    class Meta:
        verbose_name = "跨省来件"
        verbose_name_plural = "跨省来件"
        constraints = [
            models.UniqueConstraint(
                fields=["receiving_region", "received_id", "part"],
                name="cross_region_origin_part_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} ← {self.receiving_region}"


class ReceivedPart(HandlingStages, models.Model):
    """多地联办: one part of a received application, an item handled by one region. A
    single-region application has no parts (its handling is recorded on the application)."""

    received = models.ForeignKey(
        ReceivedApplication, on_delete=models.PROTECT, related_name="parts"
    )
    position = models.PositiveSmallIntegerField("序号")
    handling_region = models.CharField("办理地", max_length=12)
    item_code = models.CharField("事项实施编码", max_length=64)
    item_name = models.CharField("事项名称", max_length=200)
    form_data = models.JSONField("本部分申请表", default=dict)
    stage = FSMField(
        "移交状态",
        max_length=16,
        choices=ReceivedStage.choices,
        default=ReceivedStage.RECEIVED,
        protected=True,
    )
    note = models.TextField("说明", blank=True)
    remote_case_id = models.CharField("办理地办件", max_length=64, blank=True)
    remote_case_number = models.CharField("办理地办件编号", max_length=50, blank=True)
    remote_status = models.CharField("办理地状态", max_length=24, blank=True)
    last_sequence = models.PositiveIntegerField(default=0)
    # The status messages applied, by number: each once, whatever order they arrive in.
    sequences_applied = models.JSONField("已应用的状态消息", default=list, blank=True)

    class Meta:
        verbose_name = "联办部分"
        verbose_name_plural = "联办部分"
        ordering = ["received", "position"]
        constraints = [
            models.UniqueConstraint(fields=["received", "position"], name="received_part_once")
        ]

    def __str__(self) -> str:
        return f"{self.item_name} → {self.handling_region}"


# ---- bundles (一件事) ----


class BundleCaseStatus(models.TextChoices):
    """The bundle's status, derived from its children's (stored for lists)."""

    IN_PROGRESS = "in_progress", "办理中"
    CORRECTION_REQUESTED = "correction_requested", "待补正"
    DENIED = "denied", "部分事项未获准予"
    COMPLETED = "completed", "已办结"


class BundleCase(models.Model):
    """一件事的一次申请: one submission that created one child case per item."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bundle = models.ForeignKey(
        "catalog.Bundle", on_delete=models.PROTECT, related_name="bundle_cases"
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bundle_cases"
    )
    enterprise = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="bundle_cases"
    )
    form_data = models.JSONField("一件事申请表", default=dict)
    status = models.CharField(
        "状态",
        max_length=24,
        choices=BundleCaseStatus.choices,
        default=BundleCaseStatus.IN_PROGRESS,
    )
    submitted_at = models.DateTimeField("提交时间")
    completed_at = models.DateTimeField("办结时间", null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 — NULL: no key, never unique-clashes
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "一件事办件"
        verbose_name_plural = "一件事办件"
        ordering = ["-submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "idempotency_key"], name="bundle_case_idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"一件事 {self.pk}"


class BundleCaseChild(models.Model):
    """A child case of a bundle case: one item, its own department, number and deadlines."""

    bundle_case = models.ForeignKey(BundleCase, on_delete=models.PROTECT, related_name="children")
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="bundle_child")
    bundle_item = models.ForeignKey(
        "catalog.BundleItem", on_delete=models.PROTECT, related_name="+"
    )
    position = models.PositiveSmallIntegerField("顺序")
    # bundle_item ids of the items whose results this child waits for
    needs = models.JSONField("前序事项", default=list)

    class Meta:
        verbose_name = "一件事子办件"
        verbose_name_plural = "一件事子办件"
        ordering = ["bundle_case", "position"]

    def __str__(self) -> str:
        return f"{self.bundle_case_id}#{self.position}"
