"""事项目录: service items, their materials and immutable published versions.

`ServiceItem` is the working copy administrators edit; publishing snapshots it (with its
materials and form schema) into a `ServiceItemVersion`. A case binds to the version current
when it was submitted, so editing an item never changes a case in flight.
"""

from __future__ import annotations

from django.db import models

from tongban.core.models import Division
from tongban.identity.models import Department


class ItemType(models.TextChoices):
    """事项类型 (GB/T 39046-2020 A.1)."""

    ADMINISTRATIVE_POWER = "00", "行政权力事项"
    LICENSING = "01", "行政许可"
    PENALTY = "02", "行政处罚"
    ENFORCEMENT = "03", "行政强制"
    LEVY = "04", "行政征收"
    BENEFIT = "05", "行政给付"
    INSPECTION = "06", "行政检查"
    CONFIRMATION = "07", "行政确认"
    REWARD = "08", "行政奖励"
    ADJUDICATION = "09", "行政裁决"
    OTHER_POWER = "10", "其他行政权力"
    PUBLIC_SERVICE = "20", "公共服务"


class OnlineDepth(models.IntegerChoices):
    """网上办理深度 (国办函〔2016〕108号 levels)."""

    CONSULT = 1, "一级：网上咨询"
    PRE_CHECK = 2, "二级：网上预审"
    ONLINE_ACCEPT = 3, "三级：网上受理"
    FULLY_ONLINE = 4, "四级：全程网办"


class ServiceItem(models.Model):
    """政务服务事项 (实施清单): the editable working copy."""

    implementation_code = models.CharField("实施编码", max_length=31, unique=True)
    catalog_code = models.CharField("基本编码", max_length=12, db_index=True)
    name = models.CharField("事项名称", max_length=200)
    item_type = models.CharField("事项类型", max_length=2, choices=ItemType.choices)
    department = models.ForeignKey(
        Department, verbose_name="实施部门", on_delete=models.PROTECT, related_name="items"
    )
    division = models.ForeignKey(
        Division, verbose_name="实施区划", on_delete=models.PROTECT, related_name="items"
    )
    legal_basis = models.TextField("设定依据", blank=True)
    conditions = models.TextField("受理条件", blank=True)
    legal_limit_days = models.PositiveSmallIntegerField("法定办结时限（工作日）")
    committed_limit_days = models.PositiveSmallIntegerField("承诺办结时限（工作日）")
    fee = models.CharField("收费", max_length=300, default="不收费")
    online_depth = models.PositiveSmallIntegerField(
        "网上办理深度", choices=OnlineDepth.choices, default=OnlineDepth.FULLY_ONLINE
    )
    visits_required = models.PositiveSmallIntegerField("到现场次数", default=0)
    cross_province = models.BooleanField("跨省通办", default=False)
    service_objects = models.JSONField(
        "服务对象", default=list, help_text='["citizen"], ["enterprise"] 或两者'
    )
    themes = models.JSONField("主题", default=list, blank=True)
    consult_phone = models.CharField("咨询电话", max_length=100, blank=True)
    handle_location = models.CharField("办理地点", max_length=300, blank=True)
    form_schema = models.JSONField("申请表结构 (JSON Schema)", default=dict)
    source_url = models.URLField("来源", max_length=500, blank=True)
    is_published = models.BooleanField("已发布", default=True)
    current_version = models.ForeignKey(
        "ServiceItemVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "政务服务事项"
        verbose_name_plural = "政务服务事项"
        ordering = ["implementation_code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(committed_limit_days__lte=models.F("legal_limit_days")),
                name="committed_within_legal_limit",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MaterialType(models.TextChoices):
    CERTIFICATE = "1", "证件证书证明"
    FORM = "2", "申请表格文书"
    OTHER = "3", "其他"


class Material(models.Model):
    """申请材料 (requirement) of the working copy."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="materials")
    code = models.CharField("材料编码", max_length=20, help_text="事项内唯一，如 M01")
    name = models.CharField("材料名称", max_length=200)
    material_type = models.CharField(
        "材料类型", max_length=1, choices=MaterialType.choices, default=MaterialType.OTHER
    )
    is_mandatory = models.BooleanField("必要", default=True)
    replaceable_by_shared_data = models.BooleanField("可由共享数据替代", default=False)
    elements = models.JSONField(
        "可替代的数据元",
        default=list,
        blank=True,
        help_text='能代替本材料的共享数据元，如 ["person.id_number", "person.name"]；'
        "全部可查得时免于上传（零材料）",
    )
    order = models.PositiveSmallIntegerField("顺序", default=0)

    class Meta:
        verbose_name = "申请材料"
        verbose_name_plural = "申请材料"
        ordering = ["item", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "code"], name="material_code_unique_in_item")
        ]

    def __str__(self) -> str:
        return self.name


class ServiceItemVersion(models.Model):
    """事项版本: an immutable snapshot of an item as published."""

    item = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField("版本号")
    published_at = models.DateTimeField("发布时间")
    published_by = models.CharField("发布人", max_length=150)
    name = models.CharField(max_length=200)
    item_type = models.CharField(max_length=2, choices=ItemType.choices)
    legal_basis = models.TextField(blank=True)
    conditions = models.TextField(blank=True)
    legal_limit_days = models.PositiveSmallIntegerField()
    committed_limit_days = models.PositiveSmallIntegerField()
    fee = models.CharField(max_length=300)
    online_depth = models.PositiveSmallIntegerField(choices=OnlineDepth.choices)
    visits_required = models.PositiveSmallIntegerField()
    cross_province = models.BooleanField()
    form_schema = models.JSONField()
    materials = models.JSONField(help_text="材料清单快照")

    class Meta:
        verbose_name = "事项版本"
        verbose_name_plural = "事项版本"
        ordering = ["item", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="item_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}"

    def material(self, code: str) -> dict | None:
        return next((m for m in self.materials if m["code"] == code), None)


# ---- bundles (一件事) ----


class BundleStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    PUBLISHED = "published", "已发布"


class Bundle(models.Model):
    """一件事: a life or business event handled as one application across departments.

    Its items (`BundleItem`) are ordinary catalog items; `BundleDependency` says which item
    needs the result of which. Saved only through `catalog.bundles.bundle_save` (or the admin,
    which calls the same check): a dependency cycle is refused.
    """

    code = models.CharField("编码", max_length=40, unique=True, help_text="如 newborn")
    name = models.CharField("名称", max_length=100)
    description = models.TextField("说明", blank=True)
    basis = models.CharField("依据", max_length=200, blank=True, help_text="如 国发〔2024〕3号")
    division = models.ForeignKey(
        Division, verbose_name="区划", on_delete=models.PROTECT, related_name="bundles"
    )
    lead_department = models.ForeignKey(
        Department, verbose_name="牵头部门", on_delete=models.PROTECT, related_name="led_bundles"
    )
    status = models.CharField(
        "状态", max_length=10, choices=BundleStatus.choices, default=BundleStatus.DRAFT
    )
    is_synthetic = models.BooleanField(
        "演示合成", default=False, help_text="演示数据：组成事项或配置为合成，并非真实办事指南"
    )

    class Meta:
        verbose_name = "一件事"
        verbose_name_plural = "一件事"
        ordering = ["division_id", "name"]

    def __str__(self) -> str:
        return self.name


class SituationKind(models.TextChoices):
    YES_NO = "yes_no", "是/否"
    CHOICE = "choice", "单选"


# The options of a yes/no question, as stored in answers and conditions.
YES_NO_OPTIONS = ("是", "否")


class BundleQuestion(models.Model):
    """情形引导: a question the applicant answers before the form (是否需要办理社保卡？);
    the answers decide which items apply (`BundleItem.condition`)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="questions")
    code = models.CharField(
        "编码", max_length=40, help_text="一件事内唯一，小写字母、数字、下划线，如 social_card"
    )
    text = models.CharField("问题", max_length=200)
    kind = models.CharField(
        "类型", max_length=10, choices=SituationKind.choices, default=SituationKind.YES_NO
    )
    options = models.JSONField(
        "选项",
        default=list,
        blank=True,
        help_text='单选题的选项，如 ["个体工商户", "有限责任公司"]；是/否题留空（选项为 是、否）',
    )
    order = models.PositiveSmallIntegerField("顺序", default=0)

    class Meta:
        verbose_name = "情形引导问题"
        verbose_name_plural = "情形引导问题"
        ordering = ["bundle", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bundle", "code"], name="bundle_question_code_unique")
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def choices(self) -> tuple[str, ...]:
        """The options an answer may take."""
        if self.kind == SituationKind.YES_NO:
            return YES_NO_OPTIONS
        return tuple(str(option) for option in self.options or [])


class BundleItem(models.Model):
    """One catalog item of a bundle; its department is the item's. `condition` says under
    which answers to the bundle's questions it applies ({} = always)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="items")
    item = models.ForeignKey(
        ServiceItem, verbose_name="事项", on_delete=models.PROTECT, related_name="bundle_items"
    )
    order = models.PositiveSmallIntegerField("顺序", default=0)
    condition = models.JSONField(
        "适用条件",
        default=dict,
        blank=True,
        help_text='{"问题编码": ["适用的选项", …]}，所列问题须同时满足；留空表示始终办理。'
        '如 {"social_card": ["是"]}',
    )

    class Meta:
        verbose_name = "一件事的事项"
        verbose_name_plural = "一件事的事项"
        ordering = ["bundle", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bundle", "item"], name="bundle_item_unique")
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.item.name}"


class BundleDependency(models.Model):
    """`downstream` needs the result of `upstream`; `outputs` are the data elements that
    upstream's result supplies to downstream's form (e.g. ["child.birth_certificate_number"])."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="dependencies")
    upstream = models.ForeignKey(
        BundleItem, verbose_name="前序事项", on_delete=models.CASCADE, related_name="+"
    )
    downstream = models.ForeignKey(
        BundleItem, verbose_name="后续事项", on_delete=models.CASCADE, related_name="+"
    )
    outputs = models.JSONField("输出数据元", default=list, blank=True)

    class Meta:
        verbose_name = "事项依赖"
        verbose_name_plural = "事项依赖"
        ordering = ["bundle", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["upstream", "downstream"], name="bundle_dependency_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(upstream=models.F("downstream")),
                name="bundle_dependency_not_self",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.upstream_id} → {self.downstream_id}"
