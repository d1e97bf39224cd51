"""Storage of the transparency logs (存证): leaves, perfect-subtree nodes, signed tree heads,
signing keys, and what this deployment saw as a witness of other regions' logs."""

from __future__ import annotations

from django.db import models

from .merkle import NodeId

# A node's (level, index) packed into one indexed integer: level in the top bits.
_LEVEL_SHIFT = 56


def node_position(node: NodeId) -> int:
    return (node.level << _LEVEL_SHIFT) | node.index


def node_from_position(position: int) -> NodeId:
    return NodeId(position >> _LEVEL_SHIFT, position & ((1 << _LEVEL_SHIFT) - 1))


class HashAlgorithm(models.TextChoices):
    SM3 = "sm3", "SM3"
    SHA256 = "sha256", "SHA-256"


class Log(models.Model):
    """透明日志: an append-only Merkle log. The row is locked while a leaf is appended."""

    name = models.SlugField("名称", max_length=64, unique=True)
    origin = models.CharField(
        "来源标识 (origin)",
        max_length=200,
        unique=True,
        help_text="检查点首行，如 gd.gov.cn/licenses",
    )
    hash_algorithm = models.CharField(
        "哈希算法", max_length=8, choices=HashAlgorithm.choices, default=HashAlgorithm.SM3
    )
    size = models.PositiveBigIntegerField("叶子数", default=0)
    # The hashes of range_nodes(0, size), concatenated: enough to append and to give the root.
    frontier = models.BinaryField(default=b"")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "透明日志"
        verbose_name_plural = "透明日志"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.origin}, {self.size})"


class LogEntry(models.Model):
    """存证条目: one leaf — its bytes and leaf hash H(0x00 ‖ entry)."""

    log = models.ForeignKey(Log, on_delete=models.PROTECT, related_name="entries")
    index = models.PositiveBigIntegerField("序号")
    entry = models.BinaryField("内容")
    leaf_hash = models.BinaryField("叶子哈希", max_length=32)

    class Meta:
        verbose_name = "存证条目"
        verbose_name_plural = "存证条目"
        constraints = [
            models.UniqueConstraint(fields=["log", "index"], name="ledger_entry_unique_index")
        ]

    def __str__(self) -> str:
        return f"{self.log_id}#{self.index}"


class LogNode(models.Model):
    """The hash of a completed perfect subtree (level, index); written once, never changed."""

    log = models.ForeignKey(Log, on_delete=models.PROTECT, related_name="nodes")
    position = models.BigIntegerField()  # node_position(NodeId)
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["log", "position"], name="ledger_node_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.log_id} {node_from_position(self.position)}"


class KeyAlgorithm(models.TextChoices):
    ED25519 = "ed25519", "Ed25519"
    SM2 = "sm2", "SM2"
    COSIGNATURE = "cosignature", "Ed25519 副署 (cosignature/v1)"


WITNESS_OWNER = "witness"


class SigningKey(models.Model):
    """A log's (or this deployment's witness') signing key. The private key lives only in a
    file under TONGBAN["KEY_DIR"]; the row keeps its public vkey, also after rotation."""

    owner = models.CharField("所属", max_length=80, help_text="log:<名称> 或 witness")
    algorithm = models.CharField("算法", max_length=12, choices=KeyAlgorithm.choices)
    name = models.CharField("密钥名", max_length=200)
    vkey = models.TextField("公钥 (vkey)", unique=True)
    file_name = models.CharField("密钥文件", max_length=255)
    is_active = models.BooleanField("在用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    retired_at = models.DateTimeField("停用时间", null=True, blank=True)

    class Meta:
        verbose_name = "签名密钥"
        verbose_name_plural = "签名密钥"
        ordering = ["owner", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "algorithm"],
                condition=models.Q(is_active=True),
                name="ledger_one_active_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.algorithm} {'在用' if self.is_active else '已停用'}"


class Checkpoint(models.Model):
    """签名树头: a C2SP checkpoint signed by the log's keys."""

    log = models.ForeignKey(Log, on_delete=models.PROTECT, related_name="checkpoints")
    size = models.PositiveBigIntegerField("树大小")
    root_hash = models.BinaryField("根哈希", max_length=32)
    note = models.TextField("签名检查点")
    key_ids = models.CharField("签名密钥", max_length=200)
    created_at = models.DateTimeField("发布时间", auto_now_add=True)

    class Meta:
        verbose_name = "签名树头"
        verbose_name_plural = "签名树头"
        ordering = ["-id"]
        indexes = [models.Index(fields=["log", "-id"], name="ledger_checkpoint_latest")]

    def __str__(self) -> str:
        return f"{self.log_id} @{self.size}"


class TrustedLog(models.Model):
    """信任列表: another region's log this deployment witnesses, with its public keys."""

    origin = models.CharField("来源标识 (origin)", max_length=200, unique=True)
    region = models.CharField("地区", max_length=64, blank=True)
    vkeys = models.TextField("公钥 (vkey，每行一个)")
    hash_algorithm = models.CharField(
        "哈希算法", max_length=8, choices=HashAlgorithm.choices, default=HashAlgorithm.SM3
    )
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "受信日志"
        verbose_name_plural = "受信日志"
        ordering = ["origin"]

    def __str__(self) -> str:
        return f"{self.region or self.origin}"

    def vkey_list(self) -> list[str]:
        return [line.strip() for line in self.vkeys.splitlines() if line.strip()]


class WitnessedCheckpoint(models.Model):
    """A checkpoint of a trusted log that this deployment verified and cosigned."""

    trusted_log = models.ForeignKey(TrustedLog, on_delete=models.PROTECT, related_name="seen")
    size = models.PositiveBigIntegerField("树大小")
    root_hash = models.BinaryField("根哈希", max_length=32)
    note = models.TextField("检查点")
    cosignature = models.TextField("副署")
    observed_at = models.DateTimeField("观察时间")

    class Meta:
        verbose_name = "已见证检查点"
        verbose_name_plural = "已见证检查点"
        ordering = ["-size", "-id"]
        indexes = [models.Index(fields=["trusted_log", "-size"], name="ledger_witnessed_latest")]

    def __str__(self) -> str:
        return f"{self.trusted_log_id} @{self.size}"


class SplitViewKind(models.TextChoices):
    SAME_SIZE_DIFFERENT_ROOT = "same_size", "同一大小、不同根哈希"
    INCONSISTENT = "inconsistent", "一致性证明不成立"
    ROLLBACK = "rollback", "树变小（回滚）"


class SplitViewAlert(models.Model):
    """分叉告警: two views of one log that cannot both be true, with both notes as evidence."""

    trusted_log = models.ForeignKey(TrustedLog, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField("类型", max_length=16, choices=SplitViewKind.choices)
    previous_note = models.TextField("此前见到的检查点")
    new_note = models.TextField("新检查点")
    consistency_proof = models.JSONField("一致性证明 (base64)", default=list)
    detected_at = models.DateTimeField("发现时间")

    class Meta:
        verbose_name = "分叉告警"
        verbose_name_plural = "分叉告警"
        ordering = ["-detected_at"]

    def __str__(self) -> str:
        return f"{self.trusted_log} {self.get_kind_display()}"
