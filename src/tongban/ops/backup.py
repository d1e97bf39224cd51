"""Backup and restore: one tar.gz holding the database dump, the material files and a manifest.

`backup_create` takes a consistent snapshot of the database (PostgreSQL: `pg_dump` inside an
exported REPEATABLE READ snapshot; SQLite: the online backup API), reads the manifest facts
(counts, audit head, migrations) from that same snapshot, then streams the material files into
the archive and records an SM3 digest of every member.

`backup_restore` checks every digest before it touches anything, refuses a non-empty target
unless forced, loads the database (`pg_restore` or a file copy) and the material files, then
proves the result: the counts, migrations and audit head equal the manifest's, every material
file hashes to its stored SHA-256 and SM3, and the audit chain verifies to the same head.

The operations package sits outside the domain apps and imports the models it counts and checks
directly (import-linter sees the dependency). See ADR 0007.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO, cast

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from psycopg import sql

from tongban.cases.models import Application, Case, MaterialSubmission
from tongban.core import clock
from tongban.core.audit import GENESIS_HASH, ChainReport, verify_chain
from tongban.core.crypto import (
    SM2DecryptError,
    SM2KeyError,
    key_fingerprint,
    sm2_decrypt,
    sm2_encrypt,
    sm2_keypair,
    sm2_public_key,
)
from tongban.core.models import AuditHead, AuditRecord

FORMAT = "tongban-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MATERIALS_PREFIX = "materials"
DUMP_NAMES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
# What the manifest counts and the restore compares.
COUNTED_MODELS: dict[str, type[models.Model]] = {
    "cases": Case,
    "applications": Application,
    "materials": MaterialSubmission,
}
# The model whose rows name a stored file (`file`) and its digests (`sha256`, `sm3`).
MATERIAL_MODEL = MaterialSubmission
CHUNK = 1024 * 1024
PROBLEMS_SHOWN = 20


class BackupError(Exception):
    """A backup or restore that cannot go on, or a restore that failed its checks."""


# ---------------------------------------------------------------------------------------------
# Small helpers


class _Digest:
    """SM3 (and size) of a byte stream, fed as it is read or written."""

    def __init__(self) -> None:
        self._hash = hashes.Hash(hashes.SM3())
        self.size = 0

    def update(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._hash.finalize().hex()


class _HashingReader:
    """A file wrapper that digests exactly the bytes tarfile copies into the archive."""

    def __init__(self, raw: BinaryIO, digest: _Digest) -> None:
        self._raw = raw
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._digest.update(data)
        return data


# ---------------------------------------------------------------------------------------------
# Sealed archives: SM4-GCM under a fresh data key, the key sealed with SM2 to a recovery key
# whose private half is kept away from the server (ADR 0007, "Encryption").

SEALED_MAGIC = b"TONGBAN-SEALED-BACKUP\n"
SEALED_SUFFIX = ".sm4"
_TAG_BYTES = 16
# The archive is sealed in segments, each its own SM4-GCM message: one GCM message may not
# exceed 64 GiB, and a deployment's scanned materials can. Segment i has the nonce
# prefix‖i and the associated data header‖i‖final, so segments cannot be reordered, dropped
# or moved between archives, and a cut at a segment boundary is caught (no final segment).
SEAL_SEGMENT_BYTES = 4 * 1024 * 1024
_SEGMENT_LIMITS = (1024, 64 * 1024 * 1024)


def _segment(prefix: bytes, preamble: bytes, index: int, final: bool) -> tuple[bytes, bytes]:
    """(nonce, associated data) of segment `index`."""
    nonce = prefix + index.to_bytes(4, "big")
    associated = preamble + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")
    return nonce, associated


class _SealingWriter:
    """A write-only file object: what is written goes out SM4-GCM encrypted in segments,
    behind a header naming the recovery key and holding the data key sealed to it; `seal()`
    writes the final segment."""

    def __init__(
        self, raw: BinaryIO, recipient_public_hex: str, segment_bytes: int | None = None
    ) -> None:
        self._key, self._prefix = os.urandom(16), os.urandom(8)
        self._segment_bytes = segment_bytes or SEAL_SEGMENT_BYTES
        header = json.dumps(
            {
                "version": 1,
                "cipher": "SM4-GCM",
                "segment_bytes": self._segment_bytes,
                "key_sealed_with": "SM2",
                "recipient": key_fingerprint(recipient_public_hex),
                "sealed_key": sm2_encrypt(recipient_public_hex, self._key).hex(),
                "nonce_prefix": self._prefix.hex(),
            },
            sort_keys=True,
        ).encode()
        self._preamble = SEALED_MAGIC + len(header).to_bytes(4, "big") + header
        self._raw = raw
        self._raw.write(self._preamble)
        self._buffer = bytearray()
        self._index = 0

    def _emit(self, plain: bytes, *, final: bool) -> None:
        if self._index >= 2**32:
            raise BackupError("归档过大，无法加密 (archive too large to seal)")
        nonce, associated = _segment(self._prefix, self._preamble, self._index, final)
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated)
        self._raw.write(encryptor.update(plain) + encryptor.finalize() + encryptor.tag)
        self._index += 1

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) >= self._segment_bytes:
            self._emit(bytes(self._buffer[: self._segment_bytes]), final=False)
            del self._buffer[: self._segment_bytes]
        return len(data)

    def flush(self) -> None:
        self._raw.flush()

    def seal(self) -> None:
        """The final segment: what is left (possibly nothing), marked final."""
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()


def archive_is_sealed(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SEALED_MAGIC)) == SEALED_MAGIC


def _sealed_header(handle: BinaryIO) -> tuple[bytes, dict[str, Any]]:
    preamble = handle.read(len(SEALED_MAGIC) + 4)
    length = int.from_bytes(preamble[len(SEALED_MAGIC) :], "big")
    if not preamble.startswith(SEALED_MAGIC) or not 0 < length <= 64 * 1024:
        raise BackupError("加密备份头已损坏 (sealed archive header damaged)")
    raw = handle.read(length)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as error:  # RecursionError: deeply nested garbage
        raise BackupError("加密备份头已损坏 (sealed archive header damaged)") from error
    if not isinstance(header, dict) or header.get("version") != 1:
        raise BackupError("加密备份格式不受支持 (sealed archive version not supported)")
    return preamble + raw, header


def _key_for(header: dict[str, Any], private_keys: Sequence[str]) -> str:
    """The one of `private_keys` the archive was sealed to (retired recovery keys may be
    given alongside the current one: old backups need the key of their time)."""
    given = []
    for private_hex in private_keys:
        try:
            fingerprint = key_fingerprint(sm2_public_key(private_hex))
        except SM2KeyError as error:
            raise BackupError(f"恢复私钥无效 (recovery key unreadable): {error}") from error
        if fingerprint == header.get("recipient"):
            return private_hex
        given.append(fingerprint)
    raise BackupError(
        f"恢复私钥与备份不匹配 (this backup was sealed for recovery key "
        f"{header.get('recipient')}; the keys given are {', '.join(given)})"
    )


def _header_secrets(header: dict[str, Any], private_key_hex: str) -> tuple[bytes, bytes, int]:
    """(data key, nonce prefix, segment size) from a header, or BackupError."""
    try:
        data_key = sm2_decrypt(private_key_hex, bytes.fromhex(header["sealed_key"]))
        prefix = bytes.fromhex(header["nonce_prefix"])
        segment = header["segment_bytes"]
        if type(segment) is not int:  # not a float, an Infinity or a string
            raise TypeError("segment_bytes")
    except (SM2DecryptError, KeyError, ValueError, TypeError) as error:
        raise BackupError("加密备份头已损坏 (sealed archive header damaged)") from error
    low, high = _SEGMENT_LIMITS
    if len(data_key) != 16 or len(prefix) != 8 or not low <= segment <= high:
        raise BackupError("加密备份头已损坏 (sealed archive header damaged)")
    return data_key, prefix, segment


def archive_unseal(archive: Path, output: Path, private_keys: str | Sequence[str]) -> None:
    """Decrypt a sealed archive into `output` (mode 0600), with whichever of `private_keys` it
    was sealed to. Every segment is authenticated, and the archive is whole (it ends with its
    final segment), before this returns; on any failure `output` is removed."""
    keys = [private_keys] if isinstance(private_keys, str) else list(private_keys)
    try:
        with archive.open("rb") as handle:
            preamble, header = _sealed_header(handle)
            data_key, prefix, segment = _header_secrets(header, _key_for(header, keys))
            body = archive.stat().st_size - len(preamble)
            sealed_segment = segment + _TAG_BYTES
            full, last = divmod(body, sealed_segment)
            if last < _TAG_BYTES:  # a final segment always follows, if only its tag
                raise BackupError("加密备份不完整 (sealed archive truncated)")
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                for index in range(full + 1):
                    final = index == full
                    sealed = handle.read(last if final else sealed_segment)
                    if len(sealed) != (last if final else sealed_segment):
                        raise BackupError("加密备份不完整 (sealed archive truncated)")
                    nonce, associated = _segment(prefix, preamble, index, final)
                    decryptor = Cipher(algorithms.SM4(data_key), modes.GCM(nonce)).decryptor()
                    decryptor.authenticate_additional_data(associated)
                    try:
                        out.write(
                            decryptor.update(sealed[:-_TAG_BYTES])
                            + decryptor.finalize_with_tag(sealed[-_TAG_BYTES:])
                        )
                    except (InvalidTag, ValueError) as error:
                        raise BackupError(
                            "加密备份校验失败：已被改动或不完整 (sealed archive failed "
                            "authentication: altered or truncated)"
                        ) from error
    except BaseException:
        output.unlink(missing_ok=True)
        raise


def read_private_key(path: Path) -> str:
    """The recovery private key file written by `tongban backup-key` (hex)."""
    try:
        return path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise BackupError(f"无法读取恢复私钥 (cannot read recovery key {path}): {error}") from error


def recovery_key_create(path: Path) -> str:
    """Write a new recovery key pair's private half to `path` (0600, never overwritten);
    return the public key for TONGBAN_BACKUP_PUBLIC_KEY."""
    private_hex, public_hex = sm2_keypair()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise BackupError(f"{path} already exists; choose another path") from error
    with os.fdopen(fd, "w") as handle:
        handle.write(private_hex + "\n")
    return public_hex


def file_digests(path: Path) -> tuple[str, str]:
    """(SHA-256, SM3) of a file, streamed."""
    sha = hashlib.sha256()
    sm3 = hashes.Hash(hashes.SM3())
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            sm3.update(chunk)
    return sha.hexdigest(), sm3.finalize().hex()


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def default_archive_name(when: datetime | None = None) -> str:
    moment = (when or clock.now()).astimezone(UTC)
    return f"tongban-backup-{moment:%Y%m%dT%H%M%SZ}.tar.gz"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    if match is None:
        raise BackupError(f"cannot read a version number from {version_text!r}")
    return int(match.group(1))


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise BackupError(f"清单不完整 (manifest incomplete): {what} = {value!r}") from error


def _tongban_version() -> str:
    try:
        return metadata.version("tongban")
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# The database being backed up or restored


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a database lives, from a Django DATABASES entry (which DATABASE_URL fills)."""

    vendor: str  # "postgresql" or "sqlite"
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    sslmode: str = ""
    connect_timeout: int | None = None

    @classmethod
    def from_settings(cls, settings_dict: Mapping[str, Any]) -> DatabaseTarget:
        engine = str(settings_dict.get("ENGINE", ""))
        options = settings_dict.get("OPTIONS") or {}
        if engine.endswith("postgresql"):
            timeout = options.get("connect_timeout")
            return cls(
                vendor="postgresql",
                name=str(settings_dict.get("NAME") or ""),
                host=str(settings_dict.get("HOST") or ""),
                port=str(settings_dict.get("PORT") or ""),
                user=str(settings_dict.get("USER") or ""),
                password=str(settings_dict.get("PASSWORD") or ""),
                sslmode=str(options.get("sslmode") or ""),
                connect_timeout=int(timeout) if timeout else None,
            )
        if engine.endswith("sqlite3"):
            return cls(vendor="sqlite", name=str(settings_dict.get("NAME") or ""))
        raise BackupError(f"backup supports PostgreSQL and SQLite, not {engine or 'no engine'}")

    def pg_env(self) -> dict[str, str]:
        """Environment for pg_dump/pg_restore: libpq reads these, nothing goes on argv."""
        env = dict(os.environ)
        values = {
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.name,
            "PGSSLMODE": self.sslmode,
            "PGCONNECT_TIMEOUT": str(self.connect_timeout or ""),
        }
        env.update({key: value for key, value in values.items() if value})
        env["PGAPPNAME"] = "tongban-backup"
        return env

    def pg_connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "dbname": self.name,
            "host": self.host or None,
            "port": self.port or None,
            "user": self.user or None,
            "password": self.password or None,
            "sslmode": self.sslmode or None,
            "connect_timeout": self.connect_timeout,
            "application_name": "tongban-backup",
        }
        return {key: value for key, value in kwargs.items() if value is not None}

    @property
    def sqlite_is_uri(self) -> bool:
        return self.name.startswith("file:")

    @property
    def sqlite_in_memory(self) -> bool:
        return self.name in ("", ":memory:") or "mode=memory" in self.name


# ---------------------------------------------------------------------------------------------
# Facts: what the manifest states and the restore must find again


@dataclass(frozen=True)
class Facts:
    counts: dict[str, int]
    audit_sequence: int
    audit_hash: str
    migrations: dict[str, str]  # app label -> latest applied migration

    def as_manifest(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "audit_head": {"sequence": self.audit_sequence, "hash": self.audit_hash},
            "migrations": self.migrations,
        }

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Facts:
        try:
            return cls(
                counts={str(k): int(v) for k, v in manifest["counts"].items()},
                audit_sequence=int(manifest["audit_head"]["sequence"]),
                audit_hash=str(manifest["audit_head"]["hash"]),
                migrations={str(k): str(v) for k, v in manifest["migrations"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BackupError(f"清单不完整 (manifest incomplete): {error!r}") from error


def _table(model: type[models.Model]) -> str:
    return str(model._meta.db_table)


def read_facts(cursor: Any) -> Facts:
    """Read the facts through any DB-API cursor (sqlite3, psycopg or Django's), no parameters."""
    counts: dict[str, int] = {}
    for key, model in COUNTED_MODELS.items():
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(_table(model))}")  # noqa: S608 — registry names
        counts[key] = int(cursor.fetchone()[0])
    cursor.execute(
        f"SELECT sequence, record_hash FROM {_quote(AuditHead._meta.db_table)} WHERE id = 1"  # noqa: S608
    )
    head = cursor.fetchone()
    migrations: dict[str, str] = {}
    cursor.execute(
        f"SELECT app, name FROM {_quote(MigrationRecorder.Migration._meta.db_table)} ORDER BY id"  # noqa: S608
    )
    for app, name in cursor.fetchall():
        migrations[str(app)] = str(name)
    return Facts(
        counts=counts,
        audit_sequence=int(head[0]) if head else 0,
        audit_hash=str(head[1]) if head else GENESIS_HASH,
        migrations=dict(sorted(migrations.items())),
    )


# ---------------------------------------------------------------------------------------------
# PostgreSQL tools


def _tool_version(path: str) -> str:
    result = subprocess.run(  # noqa: S603 — fixed argv, no shell
        [path, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    return result.stdout.strip() or result.stderr.strip()


def pg_tool(name: str, wanted_major: int) -> tuple[str, str]:
    """Find pg_dump/pg_restore of the wanted major version (newer is accepted, older is not).

    Looks in $TONGBAN_PG_BINDIR, then PATH, then Debian's /usr/lib/postgresql/<major>/bin.
    """
    candidates: list[str] = []
    if bindir := os.environ.get("TONGBAN_PG_BINDIR"):
        candidates.append(str(Path(bindir) / name))
    if found := shutil.which(name):
        candidates.append(found)
    candidates.append(f"/usr/lib/postgresql/{wanted_major}/bin/{name}")
    seen: list[str] = []
    newer: tuple[str, str] | None = None
    for candidate in candidates:
        if not Path(candidate).is_file() or not os.access(candidate, os.X_OK):
            continue
        version = _tool_version(candidate)
        seen.append(f"{candidate}: {version}")
        major = _major(version)
        if major == wanted_major:
            return candidate, version
        if major > wanted_major and newer is None:
            newer = (candidate, version)
    if newer is not None:
        return newer
    found_text = "; ".join(seen) or "none found"
    raise BackupError(
        f"需要 PostgreSQL {wanted_major} 的 {name} (need {name} of PostgreSQL {wanted_major} or "
        f"newer; {found_text}). Install postgresql-client-{wanted_major} or set "
        "TONGBAN_PG_BINDIR."
    )


def _run_pg(argv: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise BackupError(f"{what} failed (exit {result.returncode}):\n" + "\n".join(detail))


def _pg_dump(db: DatabaseTarget, dump_path: Path) -> tuple[Facts, dict[str, Any]]:
    """pg_dump inside an exported snapshot; the facts come from the very same snapshot."""
    try:
        return _pg_dump_in_snapshot(psycopg.connect(**db.pg_connect_kwargs()), db, dump_path)
    except psycopg.Error as error:
        raise BackupError(f"PostgreSQL database {db.name!r}: {error}") from error


def _pg_dump_in_snapshot(
    conn: psycopg.Connection[Any], db: DatabaseTarget, dump_path: Path
) -> tuple[Facts, dict[str, Any]]:
    with conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version_num')")
            row = cursor.fetchone()
            assert row is not None
            snapshot, version_num = str(row[0]), int(row[1])
            facts = read_facts(cursor)
            server_major = version_num // 10000
            tool, tool_version = pg_tool("pg_dump", server_major)
            _run_pg(
                [
                    tool,
                    "--format=custom",
                    "--no-password",
                    f"--snapshot={snapshot}",
                    f"--file={dump_path}",
                ],
                db.pg_env(),
                "pg_dump",
            )
        conn.rollback()
    info = {
        "server_version_num": version_num,
        "server_major": server_major,
        "dump_tool": tool_version,
        "dump_tool_major": _major(tool_version),
    }
    return facts, info


_PG_ROUTINES = (
    "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind "
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname = ANY (current_schemas(false)) AND NOT EXISTS ("
    "  SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
)


def _pg_objects(db: DatabaseTarget) -> list[str]:
    """Tables, views, sequences and functions (not extensions') in the target's schemas."""
    with psycopg.connect(**db.pg_connect_kwargs()) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = ANY (current_schemas(false)) "
            "UNION ALL SELECT sequence_name FROM information_schema.sequences "
            "WHERE sequence_schema = ANY (current_schemas(false))"
        )
        objects = [str(row[0]) for row in cursor.fetchall()]
        cursor.execute(_PG_ROUTINES)
        return objects + [f"{row[1]}()" for row in cursor.fetchall()]


def _pg_server_major(db: DatabaseTarget) -> int:
    with psycopg.connect(**db.pg_connect_kwargs()) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')")
        row = cursor.fetchone()
        assert row is not None
        return int(row[0]) // 10000


def _pg_clear(db: DatabaseTarget) -> None:
    """--force: drop every table, view and sequence in the target's schemas, in one transaction."""
    with psycopg.connect(**db.pg_connect_kwargs()) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = ANY (current_schemas(false))"
        )
        for schema, name, kind in cursor.fetchall():
            keyword = sql.SQL("VIEW" if kind == "VIEW" else "TABLE")
            cursor.execute(
                sql.SQL("DROP {} IF EXISTS {}.{} CASCADE").format(
                    keyword, sql.Identifier(schema), sql.Identifier(name)
                )
            )
        cursor.execute(
            "SELECT sequence_schema, sequence_name FROM information_schema.sequences "
            "WHERE sequence_schema = ANY (current_schemas(false))"
        )
        for schema, name in cursor.fetchall():
            cursor.execute(
                sql.SQL("DROP SEQUENCE IF EXISTS {}.{} CASCADE").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            )
        # Functions made by migrations (the audit table's append-only trigger), not extensions'.
        cursor.execute(_PG_ROUTINES)
        for schema, name, arguments, kind in cursor.fetchall():
            cursor.execute(
                sql.SQL("DROP {} IF EXISTS {}.{}({}) CASCADE").format(
                    sql.SQL("AGGREGATE" if kind == "a" else "ROUTINE"),
                    sql.Identifier(schema),
                    sql.Identifier(name),
                    sql.SQL(arguments),  # the catalog's own rendering of the signature
                )
            )


# ---------------------------------------------------------------------------------------------
# SQLite


def _sqlite_source(db: DatabaseTarget) -> sqlite3.Connection:
    if db.sqlite_is_uri:
        return sqlite3.connect(db.name, uri=True)
    if db.sqlite_in_memory:
        raise BackupError("a private in-memory SQLite database cannot be backed up")
    if not Path(db.name).is_file():
        raise BackupError(f"SQLite database {db.name} does not exist")
    return sqlite3.connect(db.name)


def _sqlite_copy(db: DatabaseTarget, dump_path: Path) -> tuple[Facts, dict[str, Any]]:
    """Online copy with the backup API (one step: a consistent read snapshot, writers go on)."""
    source = _sqlite_source(db)
    target = sqlite3.connect(dump_path)
    try:
        source.backup(target)
        # A self-contained file: no -wal/-shm beside it in the archive.
        target.execute("PRAGMA journal_mode=DELETE")
        facts = read_facts(target.cursor())
        version = sqlite3.sqlite_version
    except sqlite3.Error as error:
        raise BackupError(f"SQLite backup failed: {error}") from error
    finally:
        target.close()
        source.close()
    return facts, {"sqlite_version": version}


def _sqlite_objects(path: Path) -> list[str]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
            ).fetchall()
    except sqlite3.DatabaseError as error:
        return [f"unreadable file: {error}"]
    return [str(row[0]) for row in rows]


def _sqlite_place(source: Path, target: Path) -> None:
    """Copy the restored file beside the target, then swap it in atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, incoming)
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(incoming, target)


# ---------------------------------------------------------------------------------------------
# Backup


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    sm3: str  # of the archive file itself: record it elsewhere to detect a rewritten archive
    manifest: dict[str, Any]
    recipient: str = ""  # fingerprint of the recovery key it is sealed to; "" if not sealed

    def describe(self) -> str:
        counts = self.manifest["counts"]
        head = self.manifest["audit_head"]
        materials = self.manifest["materials"]
        return "\n".join(
            [
                f"备份完成 (backup written): {self.path}",
                f"  大小 size      {human_size(self.size)} ({self.size} bytes)",
                f"  数据库 database {self.manifest['database']['vendor']}",
                f"  办件 cases {counts['cases']}, 申请 applications {counts['applications']}, "
                f"材料 materials {counts['materials']} "
                f"({materials['files']} files, {human_size(materials['bytes'])})",
                f"  审计链头 audit head #{head['sequence']} {head['hash']}",
                f"  归档 SM3 archive {self.sm3}",
                f"  加密 sealed    SM4-GCM, 恢复密钥 recovery key {self.recipient}"
                if self.recipient
                else "  加密 sealed    否 NOT ENCRYPTED (set TONGBAN_BACKUP_PUBLIC_KEY)",
            ]
        )


def _material_files(materials_dir: Path) -> Iterator[tuple[Path, str]]:
    """Regular files under the materials root, sorted, with their archive names."""
    if not materials_dir.is_dir():
        return
    for directory, dirnames, filenames in os.walk(materials_dir):
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(directory) / filename
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(materials_dir).as_posix()
            yield path, f"{MATERIALS_PREFIX}/{relative}"


def _tarinfo(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    return info


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> dict[str, Any]:
    digest = _Digest()
    with path.open("rb") as raw:
        stat = os.fstat(raw.fileno())
        reader = _HashingReader(raw, digest)
        tar.addfile(_tarinfo(name, stat.st_size, stat.st_mtime), cast(IO[bytes], reader))
    return {"size": digest.size, "sm3": digest.hexdigest()}


def _archive_sm3(path: Path) -> str:
    digest = _Digest()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def backup_create(
    *,
    output: Path,
    materials_dir: Path,
    using: str = DEFAULT_DB_ALIAS,
    recipient: str | None = None,
) -> BackupResult:
    """Write one archive: database snapshot, material files, manifest with SM3 of each member.
    With `recipient` (an SM2 public key) the archive is sealed to it: SM4-GCM as it is
    written, so no unencrypted archive ever reaches the disk."""
    db = DatabaseTarget.from_settings(connections[using].settings_dict)
    output = output.absolute()
    if output.exists():
        raise BackupError(f"{output} already exists; choose another --output")
    output.parent.mkdir(parents=True, exist_ok=True)
    created_at = clock.now().astimezone(UTC)
    dump_name = DUMP_NAMES[db.vendor]
    partial = output.with_name(output.name + ".partial")
    # The dump is staged beside the output (the same disk the archive needs anyway), except
    # for a sealed archive: its output may be an off-host mount, and the dump is plaintext, so
    # it is staged beside the materials, on the server's own disk.
    staging_parent = materials_dir.absolute().parent if recipient else output.parent
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tongban-backup-", dir=staging_parent) as staging:
        dump_path = Path(staging) / dump_name
        if db.vendor == "postgresql":
            facts, database_info = _pg_dump(db, dump_path)
        else:
            facts, database_info = _sqlite_copy(db, dump_path)
        files: dict[str, dict[str, Any]] = {}
        material_files = 0
        material_bytes = 0
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data
        try:
            with os.fdopen(fd, "wb") as raw:
                sink = _SealingWriter(raw, recipient) if recipient else raw
                with tarfile.open(
                    fileobj=cast(IO[bytes], sink),
                    mode="w:gz",
                    compresslevel=6,
                    format=tarfile.PAX_FORMAT,
                ) as tar:
                    files[dump_name] = _add_file(tar, dump_path, dump_name)
                    # Files after the snapshot: a material row is committed only after its file
                    # is written, so every row in the snapshot finds its file (extra files are
                    # harmless).
                    for path, name in _material_files(materials_dir):
                        entry = _add_file(tar, path, name)
                        files[name] = entry
                        material_files += 1
                        material_bytes += entry["size"]
                    manifest: dict[str, Any] = {
                        "format": FORMAT,
                        "format_version": FORMAT_VERSION,
                        "created_at": created_at.isoformat().replace("+00:00", "Z"),
                        "tongban_version": _tongban_version(),
                        "database": {"vendor": db.vendor, "file": dump_name, **database_info},
                        **facts.as_manifest(),
                        "materials": {"files": material_files, "bytes": material_bytes},
                        "files": files,
                    }
                    body = json.dumps(
                        manifest, ensure_ascii=False, indent=2, sort_keys=True
                    ).encode()
                    info = _tarinfo(MANIFEST_NAME, len(body), created_at.timestamp())
                    tar.addfile(info, io.BytesIO(body))
                if isinstance(sink, _SealingWriter):
                    sink.seal()
            os.replace(partial, output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return BackupResult(
        output,
        output.stat().st_size,
        _archive_sm3(output),
        manifest,
        key_fingerprint(recipient) if recipient else "",
    )


# ---------------------------------------------------------------------------------------------
# Reading and checking an archive


def _member_name(member: tarfile.TarInfo) -> str:
    """The member's name if it is one this format writes, else refuse the archive."""
    name = member.name
    parts = PurePosixPath(name).parts
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or any(part in ("", ".", "..") for part in parts)
        or str(PurePosixPath(*parts)) != name
    ):
        raise BackupError(f"归档含非法路径 (archive has an unsafe member name): {name!r}")
    if member.isdir():
        return ""
    if not member.isfile():
        raise BackupError(f"归档含非普通文件 (archive member is not a regular file): {name!r}")
    if name != MANIFEST_NAME and name not in DUMP_NAMES.values() and parts[0] != MATERIALS_PREFIX:
        raise BackupError(f"归档含未知成员 (unexpected archive member): {name!r}")
    return name


def archive_extract(
    archive: Path, destination: Path, *, private_key: str | Sequence[str] | None = None
) -> dict[str, Any]:
    """Extract into `destination` and check every member against the manifest; return it.

    Nothing outside `destination` is written, whatever the archive holds. A sealed archive
    needs its recovery `private_key` (or several: the one it was sealed to is used); it is
    decrypted and authenticated as a whole before a
    single member is read.
    """
    try:
        sealed = archive_is_sealed(archive)
    except FileNotFoundError as error:
        raise BackupError(f"找不到归档 (archive not found): {archive}") from error
    except OSError as error:
        raise BackupError(f"无法读取归档 (archive unreadable): {error}") from error
    if not sealed:
        return _extract_plain(archive, destination)
    if not private_key:
        raise BackupError(
            "备份已加密，需要恢复私钥 (this backup is sealed: give the recovery key, "
            "`tongban restore ARCHIVE --key FILE`)"
        )
    plain = destination / ".unsealed.tar.gz"
    archive_unseal(archive, plain, private_key)
    try:
        return _extract_plain(plain, destination)
    finally:
        plain.unlink(missing_ok=True)


def _extract_plain(archive: Path, destination: Path) -> dict[str, Any]:
    digests: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                name = _member_name(member)
                if not name:
                    continue
                if name in digests:
                    raise BackupError(f"归档成员重复 (duplicate archive member): {name!r}")
                source = tar.extractfile(member)
                assert source is not None
                target = destination / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = _Digest()
                with source, target.open("wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                digests[name] = {"size": digest.size, "sm3": digest.hexdigest()}
            # tarfile stops at the first unreadable header; read the gzip stream to its end so
            # its CRC is checked and a damaged archive says so.
            stream = tar.fileobj
            while stream is not None and stream.read(CHUNK):
                pass
    except BackupError:
        raise
    except FileNotFoundError as error:
        raise BackupError(f"找不到归档 (archive not found): {archive}") from error
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise BackupError(
            f"归档已损坏 (archive damaged or not a tongban backup): {error}"
        ) from error
    if MANIFEST_NAME not in digests:
        raise BackupError("归档缺少清单 (archive has no manifest.json: truncated or damaged?)")
    try:
        manifest = json.loads((destination / MANIFEST_NAME).read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"清单无法解析 (manifest unreadable): {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("不是通办备份 (not a tongban backup archive)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"备份格式版本 {manifest.get('format_version')} 不受支持 (this tongban reads "
            f"format version {FORMAT_VERSION})"
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise BackupError("清单不完整 (manifest lists no files)")
    del digests[MANIFEST_NAME]
    problems = []
    for name in sorted(set(listed) | set(digests)):
        if name not in digests:
            problems.append(f"missing from archive: {name}")
        elif name not in listed:
            problems.append(f"not listed in manifest: {name}")
        elif digests[name] != {"size": listed[name].get("size"), "sm3": listed[name].get("sm3")}:
            problems.append(f"SM3 digest mismatch: {name}")
    if problems:
        raise BackupError(_problem_text("归档校验失败 (archive failed its digest check)", problems))
    return manifest


def _problem_text(title: str, problems: list[str]) -> str:
    lines = [f"{title}: {len(problems)} problem(s)"]
    lines += [f"  - {problem}" for problem in problems[:PROBLEMS_SHOWN]]
    if len(problems) > PROBLEMS_SHOWN:
        lines.append(f"  … and {len(problems) - PROBLEMS_SHOWN} more")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Restore


@dataclass(frozen=True)
class RestoreReport:
    manifest: dict[str, Any]
    facts: Facts
    materials_checked: int
    chain: ChainReport
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        counts = self.facts.counts
        lines = [
            f"恢复完成并已校验 (restored and verified): backup of {self.manifest['created_at']}",
            f"  办件 cases {counts['cases']}, 申请 applications {counts['applications']}, "
            f"材料 materials {counts['materials']} ({self.materials_checked} files re-hashed)",
            f"  {self.chain.describe()}",
        ]
        lines += [f"  注意 note: {note}" for note in self.notes]
        return "\n".join(lines)


def _materials_dir_is_empty(materials_dir: Path) -> bool:
    return not materials_dir.exists() or next(materials_dir.iterdir(), None) is None


def _place_materials(source: Path, materials_dir: Path) -> None:
    """Move restored files in; names are content-addressed, so an existing name is replaced."""
    if not source.is_dir():
        materials_dir.mkdir(parents=True, exist_ok=True)
        return
    for directory, _dirnames, filenames in os.walk(source):
        for filename in filenames:
            path = Path(directory) / filename
            target = materials_dir / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)


def _chain_report(using: str) -> ChainReport:
    """`audit_verify()` against the given connection."""
    head = AuditHead.objects.using(using).filter(id=1).first()
    records = AuditRecord.objects.using(using).order_by("sequence").iterator(chunk_size=2000)
    return verify_chain(records, head)


def _check_materials(materials_dir: Path, using: str, problems: list[str]) -> int:
    model = MATERIAL_MODEL
    root = materials_dir.resolve()
    checked = 0
    rows = model._default_manager.using(using).values_list("pk", "file", "sha256", "sm3")
    for pk, name, sha256, sm3 in rows.order_by("pk").iterator(chunk_size=2000):
        path = (root / str(name)).resolve()
        if not path.is_relative_to(root):
            problems.append(f"material {pk}: file name leaves the materials root: {name!r}")
            continue
        if not path.is_file():
            problems.append(f"material {pk}: file missing: {name}")
            continue
        actual_sha256, actual_sm3 = file_digests(path)
        checked += 1
        if actual_sha256 != sha256:
            problems.append(f"material {pk}: SHA-256 of {name} does not match the stored digest")
        elif actual_sm3 != sm3:
            problems.append(f"material {pk}: SM3 of {name} does not match the stored digest")
    return checked


def _migration_notes(using: str, migrations: Mapping[str, str]) -> tuple[str, ...]:
    loader = MigrationLoader(connections[using], ignore_no_migrations=True)
    unknown = sorted(
        f"{app}.{name}" for app, name in migrations.items() if (app, name) not in loader.graph.nodes
    )
    pending = sum(1 for node in loader.graph.nodes if node not in loader.applied_migrations)
    notes = []
    if unknown:
        notes.append(
            "备份来自更新的版本 (the backup has migrations this code does not know: "
            + ", ".join(unknown[:5])
            + ") — run the matching tongban version"
        )
    if pending:
        notes.append(
            f"{pending} migration(s) of this code are not applied yet — run "
            "`tongban manage migrate`"
        )
    return tuple(notes)


def restore_verify(
    manifest: Mapping[str, Any], *, materials_dir: Path, using: str = DEFAULT_DB_ALIAS
) -> RestoreReport:
    """Prove the restored database and files are the ones the manifest describes."""
    expected = Facts.from_manifest(manifest)
    problems: list[str] = []
    with connections[using].cursor() as cursor:
        actual = read_facts(cursor)
    for key, count in expected.counts.items():
        if actual.counts.get(key) != count:
            problems.append(f"{key}: manifest {count}, restored {actual.counts.get(key)}")
    if actual.migrations != expected.migrations:
        problems.append("migration state differs from the manifest")
    if (actual.audit_sequence, actual.audit_hash) != (
        expected.audit_sequence,
        expected.audit_hash,
    ):
        problems.append(
            f"audit head: manifest #{expected.audit_sequence} {expected.audit_hash}, restored "
            f"#{actual.audit_sequence} {actual.audit_hash}"
        )
    checked = _check_materials(materials_dir, using, problems)
    chain = _chain_report(using)
    if not chain.ok:
        problems.append(chain.describe())
    elif (chain.checked, chain.head_hash) != (expected.audit_sequence, expected.audit_hash):
        problems.append(
            f"audit chain ends at #{chain.checked} {chain.head_hash}, manifest says "
            f"#{expected.audit_sequence} {expected.audit_hash}"
        )
    if problems:
        raise BackupError(
            _problem_text(
                "恢复后校验失败，请勿投入使用 (restored data FAILED verification; do not put it "
                "into service)",
                problems,
            )
        )
    return RestoreReport(
        dict(manifest), actual, checked, chain, _migration_notes(using, actual.migrations)
    )


def backup_restore(
    *,
    archive: Path,
    materials_dir: Path,
    using: str = DEFAULT_DB_ALIAS,
    force: bool = False,
    private_key: str | Sequence[str] | None = None,
) -> RestoreReport:
    """Restore an archive into the (empty, unless `force`) database and materials root, then
    verify it. Stop the application first: the restore replaces what it reads."""
    connection = connections[using]
    db = DatabaseTarget.from_settings(connection.settings_dict)
    materials_dir = materials_dir.absolute()
    staging_parent = materials_dir.parent
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tongban-restore-", dir=staging_parent) as tmp:
        staging = Path(tmp)
        # 1. Every digest, before anything is touched.
        manifest = archive_extract(archive.absolute(), staging, private_key=private_key)
        database = manifest.get("database")
        if not isinstance(database, dict):
            raise BackupError("清单不完整 (manifest incomplete): no database section")
        vendor = database.get("vendor")
        if vendor != db.vendor:
            raise BackupError(
                f"备份是 {vendor} 的，目标是 {db.vendor} (the backup is of a {vendor} database, "
                f"the target is {db.vendor}; restore into the same kind of database)"
            )
        Facts.from_manifest(manifest)  # complete before we start
        dump_path = staging / DUMP_NAMES[db.vendor]
        # 2. The target must be empty, unless forced.
        connection.close()
        if db.vendor == "sqlite" and (db.sqlite_in_memory or db.sqlite_is_uri):
            raise BackupError("restore into SQLite needs a plain file path as its NAME")
        objects = _pg_objects(db) if db.vendor == "postgresql" else _sqlite_objects(Path(db.name))
        occupied = []
        if objects:
            occupied.append(f"database {db.name} has {len(objects)} object(s) ({objects[0]}, …)")
        if not _materials_dir_is_empty(materials_dir):
            occupied.append(f"materials directory {materials_dir} is not empty")
        if occupied and not force:
            raise BackupError(
                "目标不是空的，未做任何改动 (target is not empty, nothing changed): "
                + "; ".join(occupied)
                + ". Restore into a fresh database, or pass --force to replace it."
            )
        # 3. The database.
        if db.vendor == "postgresql":
            source_major = _int(database.get("server_major"), "server_major")
            target_major = _pg_server_major(db)
            if target_major < source_major:
                raise BackupError(
                    f"the backup is of PostgreSQL {source_major}; the target server is "
                    f"{target_major}. Restore into PostgreSQL {source_major} or newer."
                )
            dump_major = _int(database.get("dump_tool_major"), "dump_tool_major")
            tool, _version = pg_tool("pg_restore", max(dump_major, target_major))
            if objects:
                _pg_clear(db)
            _run_pg(
                [
                    tool,
                    "--no-owner",
                    "--exit-on-error",
                    "--single-transaction",
                    "--no-password",
                    f"--dbname={db.name}",
                    str(dump_path),
                ],
                db.pg_env(),
                "pg_restore",
            )
        else:
            _sqlite_place(dump_path, Path(db.name))
        # 4. The material files.
        _place_materials(staging / MATERIALS_PREFIX, materials_dir)
    # 5. Prove it.
    connection.close()
    return restore_verify(manifest, materials_dir=materials_dir, using=using)
