"""API shapes of the ledger. Hashes and entries are base64 (standard alphabet, padded)."""

from __future__ import annotations

from ninja import Field, Schema


class LogOut(Schema):
    name: str
    origin: str
    hash_algorithm: str = Field(description="sm3 或 sha256")
    size: int
    vkeys: list[str] = Field(
        description="日志公钥（当前与历史），golang.org/x/mod/sumdb/note vkey 格式"
    )


class WitnessKeysOut(Schema):
    name: str
    vkeys: list[str] = Field(description="本地区见证人副署公钥 (cosignature/v1, 类型 0x04)")


class TreeHeadOut(Schema):
    size: int
    root_hash: str


class EntryOut(Schema):
    index: int
    entry: str = Field(description="条目内容 (base64)")
    leaf_hash: str
    tree_size: int
    root_hash: str
    inclusion_proof: list[str] = Field(description="RFC 9162 包含证明，自叶子一端起")


class ConsistencyOut(Schema):
    old: int
    new: int
    old_root_hash: str
    new_root_hash: str
    consistency_proof: list[str]


class WitnessIn(Schema):
    origin: str = Field(max_length=200)
    checkpoint: str = Field(max_length=65536, description="对方日志的签名检查点 (signed note)")
    consistency_proof: list[str] = Field(
        default=[],
        max_length=128,
        description="自本地区上次见到的大小到新大小的一致性证明 (base64)",
    )


class CosignatureOut(Schema):
    origin: str
    size: int
    cosignature: str = Field(description="副署签名行，追加到检查点签名之后")
    witness_vkey: str
