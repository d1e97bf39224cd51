"""Backup and restore drill (issue 3, item 9; ADR 0007).

Seed a world, back it up, restore it into a FRESH database and materials directory through the
`tongban restore` command, and find every case, every material (digests and the re-hashed files)
and the same audit chain head. Runs on SQLite by default and on PostgreSQL when DATABASE_URL
points there (a `tongban_restore_<random>` database is created beside the test database and
dropped afterwards). Tampered archives and non-empty targets are refused.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connections
from django.db.utils import load_backend

from tongban import cli
from tongban.cases.models import Case, MaterialSubmission
from tongban.cases.submission.services import UploadedMaterial, application_submit, case_transition
from tongban.core.audit import verify_chain
from tongban.core.models import AuditHead, AuditRecord
from tongban.ops import backup as backup_module
from tongban.ops.backup import (
    BackupError,
    DatabaseTarget,
    backup_create,
    backup_restore,
    file_digests,
)

from .. import factories as f

pytestmark = [pytest.mark.harness, pytest.mark.django_db(transaction=True)]

ALIAS = "restore_drill"


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def live_materials(settings: Any, tmp_path: Path) -> Path:
    """This test's own materials root, so the archive holds only this test's files."""
    root = tmp_path / "live" / "materials"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(root)}},
    }
    return root


@dataclass(frozen=True)
class Target:
    url: str  # DATABASE_URL for a `tongban restore` subprocess
    alias: str  # a Django connection to the same database, for the assertions
    var_dir: Path  # TONGBAN_VAR_DIR of the restored installation

    @property
    def materials(self) -> Path:
        return self.var_dir / "materials"


def _pg_admin(default: DatabaseTarget) -> Any:
    import psycopg

    return psycopg.connect(**replace(default, name="postgres").pg_connect_kwargs(), autocommit=True)


@pytest.fixture
def fresh_target(db: None, tmp_path: Path) -> Iterator[Target]:
    """An empty database on the same kind of server as the test database, and a connection."""
    default = connections["default"].settings_dict
    source = DatabaseTarget.from_settings(default)
    var_dir = tmp_path / "restored-var"
    if source.vendor == "postgresql":
        name = f"tongban_restore_{uuid.uuid4().hex[:12]}"
        with _pg_admin(source) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        credentials = quote(source.user or "postgres", safe="")
        if source.password:
            credentials += ":" + quote(source.password, safe="")
        url = f"postgres://{credentials}@{source.host or 'localhost'}:{source.port or 5432}/{name}"
    else:
        var_dir.mkdir()
        name = str(var_dir / "tongban.sqlite3")
        url = f"sqlite:///{name}"
    # A dynamically created connection (not in settings.DATABASES), which Django's test case
    # allows; `.using(ALIAS)` and the backup functions find it through `connections`.
    wrapper = load_backend(default["ENGINE"]).DatabaseWrapper(
        {**default, "NAME": name, "TEST": {**default["TEST"]}}, ALIAS
    )
    connections[ALIAS] = wrapper
    try:
        yield Target(url=url, alias=ALIAS, var_dir=var_dir)
    finally:
        wrapper.close()
        del connections[ALIAS]
        if source.vendor == "postgresql":
            with _pg_admin(source) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------------
# Helpers


def pdf(n: int) -> bytes:
    return f.PDF + f"% case {n} {uuid.uuid4()}\n".encode()


def png(n: int) -> bytes:
    return f.PNG + n.to_bytes(4, "big") + uuid.uuid4().bytes


def seed(world: dict[str, Any], cases: int = 6) -> None:
    """Several submitted cases with one or two materials each, walked to different states."""
    paths = [
        (),
        ("accept",),
        ("accept", "start_review"),
        ("accept", "start_review", "approve", "complete"),
        ("request_correction",),
        ("reject",),
    ]
    actors = {
        "accept": "clerk",
        "reject": "clerk",
        "request_correction": "clerk",
        "start_review": "reviewer",
        "approve": "reviewer",
        "complete": "reviewer",
    }
    for n in range(cases):
        materials = [UploadedMaterial("M01", f"id-{n}.pdf", pdf(n))]
        if n % 2:
            materials.append(UploadedMaterial("M02", f"marriage-{n}.png", png(n)))
        result = application_submit(
            actor=world["citizen"] if n % 3 else world["other_citizen"],
            item_code=world["item"].implementation_code,
            form_data=dict(f.VALID_FORM),
            materials=materials,
        )
        for action in paths[n % len(paths)]:
            case_transition(
                actor=world[actors[action]],
                case_id=result.case.pk,
                action=action,
                comment="意见",
            )


def snapshot(using: str = "default") -> dict[str, Any]:
    head = AuditHead.objects.using(using).get(id=1)
    return {
        "cases": sorted(Case.objects.using(using).values_list("case_number", "status")),
        "materials": sorted(
            MaterialSubmission.objects.using(using).values_list("pk", "file", "sha256", "sm3")
        ),
        "audit_head": (head.sequence, head.record_hash),
    }


def tongban(*args: str, target: Target, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the `tongban` command as an operator would, against the restore target."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tongban.config.settings.dev",
        "DATABASE_URL": target.url,
        "TONGBAN_VAR_DIR": str(target.var_dir),
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tongban", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def is_empty(target: Target) -> bool:
    tables = connections[target.alias].introspection.table_names()
    connections[target.alias].close()
    materials = target.materials
    return not tables and (not materials.exists() or not any(materials.iterdir()))


Mutation = Callable[[dict[str, bytes]], None]


def rewrite(archive: Path, out: Path, mutate: Mutation) -> Path:
    """Unpack an archive into memory, let `mutate` change its members, pack it again."""
    with tarfile.open(archive, "r:gz") as tar:
        members = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
    mutate(members)
    with tarfile.open(out, "w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out


def flip_material_byte(members: dict[str, bytes]) -> None:
    name = next(n for n in sorted(members) if n.startswith("materials/"))
    body = bytearray(members[name])
    body[len(body) // 2] ^= 0x01
    members[name] = bytes(body)


def wrong_manifest_digest(members: dict[str, bytes]) -> None:
    manifest = json.loads(members["manifest.json"])
    name = next(n for n in sorted(manifest["files"]) if n.startswith("materials/"))
    manifest["files"][name]["sm3"] = "0" * 64
    members["manifest.json"] = json.dumps(manifest).encode()


def drop_material(members: dict[str, bytes]) -> None:
    del members[next(n for n in sorted(members) if n.startswith("materials/"))]


def escaping_member(members: dict[str, bytes]) -> None:
    members["materials/../../escaped.txt"] = b"outside"


# ---------------------------------------------------------------------------------------------
# The drill


def test_drill_restores_everything_into_a_fresh_database(
    world: dict[str, Any], live_materials: Path, fresh_target: Target, tmp_path: Path
) -> None:
    seed(world, cases=6)
    before = snapshot()
    assert len(before["cases"]) == 6
    assert len(before["materials"]) == 9
    assert before["audit_head"][0] > 6

    started = time.perf_counter()
    result = backup_create(output=tmp_path / "drill.tar.gz", materials_dir=live_materials)
    backup_seconds = time.perf_counter() - started
    manifest = result.manifest
    assert result.path.stat().st_mode & 0o777 == 0o600  # it holds personal data
    assert manifest["counts"] == {"cases": 6, "applications": 6, "materials": 9}
    assert (manifest["audit_head"]["sequence"], manifest["audit_head"]["hash"]) == before[
        "audit_head"
    ]
    assert manifest["materials"]["files"] == 9
    assert manifest["migrations"]["cases"].startswith("0")
    assert str(result.path) in result.describe()

    # Restore as an operator would: `tongban restore ARCHIVE` with the fresh database configured.
    assert is_empty(fresh_target)
    started = time.perf_counter()
    done = tongban("restore", str(result.path), target=fresh_target, cwd=tmp_path)
    restore_seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "restored and verified" in done.stdout

    # Everything is there: each case and its state, each material's digests and file bytes,
    # the audit chain intact up to the very same head.
    after = snapshot(fresh_target.alias)
    assert after == before
    for _pk, name, sha256, sm3 in after["materials"]:
        assert file_digests(fresh_target.materials / name) == (sha256, sm3)
    chain = verify_chain(
        AuditRecord.objects.using(fresh_target.alias).order_by("sequence"),
        AuditHead.objects.using(fresh_target.alias).get(id=1),
    )
    assert chain.ok
    assert (chain.checked, chain.head_hash) == before["audit_head"]
    if connections[fresh_target.alias].vendor == "postgresql":
        with connections[fresh_target.alias].cursor() as cursor:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            assert ("core_auditrecord_append_only",) in cursor.fetchall()
    connections[fresh_target.alias].close()

    # A second restore over it is refused without --force, and nothing changes...
    again = tongban("restore", str(result.path), target=fresh_target, cwd=tmp_path)
    assert again.returncode == 1
    assert "not empty" in again.stderr and "--force" in again.stderr
    assert snapshot(fresh_target.alias) == before
    # ... and with --force it replaces the database and verifies again.
    report = backup_restore(
        archive=result.path,
        materials_dir=fresh_target.materials,
        using=fresh_target.alias,
        force=True,
    )
    assert report.materials_checked == 9
    assert snapshot(fresh_target.alias) == before

    # The restored installation backs up to the same facts (a full round trip).
    second = backup_create(
        output=tmp_path / "second.tar.gz",
        materials_dir=fresh_target.materials,
        using=fresh_target.alias,
    )
    for key in ("counts", "audit_head", "migrations"):
        assert second.manifest[key] == manifest[key]
    assert {k: v for k, v in second.manifest["files"].items() if k.startswith("materials/")} == {
        k: v for k, v in manifest["files"].items() if k.startswith("materials/")
    }
    print(  # shown with -s: the drill's cost
        f"\n[backup drill] {connections['default'].vendor}: backup {backup_seconds:.2f}s, "
        f"restore (subprocess) {restore_seconds:.2f}s, archive {result.size} bytes"
    )


# ---------------------------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (flip_material_byte, "SM3 digest mismatch"),
        (wrong_manifest_digest, "SM3 digest mismatch"),
        (drop_material, "missing from archive"),
        (escaping_member, "unsafe member name"),
    ],
    ids=["material-byte-changed", "manifest-digest-changed", "material-missing", "path-escape"],
)
def test_tampered_archive_is_refused_before_anything_is_touched(
    world: dict[str, Any],
    live_materials: Path,
    fresh_target: Target,
    tmp_path: Path,
    mutate: Mutation,
    message: str,
) -> None:
    seed(world, cases=2)
    good = backup_create(output=tmp_path / "good.tar.gz", materials_dir=live_materials)
    bad = rewrite(good.path, tmp_path / "bad.tar.gz", mutate)
    with pytest.raises(BackupError, match=message):
        backup_restore(archive=bad, materials_dir=fresh_target.materials, using=fresh_target.alias)
    assert is_empty(fresh_target)
    assert not (tmp_path / "escaped.txt").exists()


def test_damaged_archive_is_refused(
    world: dict[str, Any], live_materials: Path, fresh_target: Target, tmp_path: Path
) -> None:
    seed(world, cases=1)
    good = backup_create(output=tmp_path / "good.tar.gz", materials_dir=live_materials)
    body = bytearray(good.path.read_bytes())
    body[len(body) // 2] ^= 0xFF  # one byte of the compressed stream
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(body))
    with pytest.raises(BackupError, match=r"damaged|digest"):
        backup_restore(
            archive=damaged, materials_dir=fresh_target.materials, using=fresh_target.alias
        )
    assert is_empty(fresh_target)


def test_restore_into_a_non_empty_materials_directory_is_refused(
    world: dict[str, Any], live_materials: Path, fresh_target: Target, tmp_path: Path
) -> None:
    seed(world, cases=1)
    archive = backup_create(output=tmp_path / "b.tar.gz", materials_dir=live_materials).path
    fresh_target.materials.mkdir(parents=True)
    (fresh_target.materials / "left-over.pdf").write_bytes(f.PDF)
    with pytest.raises(BackupError, match=r"not empty.*--force"):
        backup_restore(
            archive=archive, materials_dir=fresh_target.materials, using=fresh_target.alias
        )
    assert connections[fresh_target.alias].introspection.table_names() == []


def test_restore_refuses_a_backup_of_another_database_vendor(
    world: dict[str, Any], live_materials: Path, fresh_target: Target, tmp_path: Path
) -> None:
    seed(world, cases=1)
    archive = backup_create(output=tmp_path / "b.tar.gz", materials_dir=live_materials).path
    other = "postgresql" if connections["default"].vendor == "sqlite" else "sqlite"

    def claim_other_vendor(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        manifest["database"]["vendor"] = other
        members["manifest.json"] = json.dumps(manifest).encode()

    relabelled = rewrite(archive, tmp_path / "other.tar.gz", claim_other_vendor)
    with pytest.raises(BackupError, match=f"backup is of a {other} database"):
        backup_restore(
            archive=relabelled, materials_dir=fresh_target.materials, using=fresh_target.alias
        )
    assert is_empty(fresh_target)


# ---------------------------------------------------------------------------------------------
# The command line


def test_cli_backup_reports_size_and_place_and_restore_errors_exit_non_zero(
    world: dict[str, Any],
    live_materials: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TONGBAN_VAR_DIR", str(tmp_path / "var"))
    seed(world, cases=1)
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(["backup", "--output", str(out)]) == 0
    written = capsys.readouterr().out
    (archive,) = out.glob("tongban-backup-*.tar.gz")
    assert str(archive) in written
    assert f"({archive.stat().st_size} bytes)" in written
    # The archive is not overwritten.
    assert cli.main(["backup", "--output", str(archive)]) == 1
    assert "already exists" in capsys.readouterr().err
    # A damaged archive: refused with a message, exit 1, no traceback.
    bad = rewrite(archive, tmp_path / "bad.tar.gz", flip_material_byte)
    assert cli.main(["restore", str(bad)]) == 1
    error = capsys.readouterr().err
    assert "digest" in error and "Traceback" not in error


# ---------------------------------------------------------------------------------------------
# Sealed backups (SM4-GCM, the data key sealed with SM2 to an offline recovery key)


def test_sealed_drill_restores_only_with_the_recovery_key(
    world: dict[str, Any], live_materials: Path, fresh_target: Target, tmp_path: Path
) -> None:
    seed(world, cases=3)
    before = snapshot()
    key_file = tmp_path / "offline" / "recovery.sm2"
    key_file.parent.mkdir()
    created = tongban("backup-key", str(key_file), target=fresh_target, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert key_file.stat().st_mode & 0o777 == 0o600
    public = created.stdout.split("TONGBAN_BACKUP_PUBLIC_KEY=")[1].split()[0]
    again = tongban("backup-key", str(key_file), target=fresh_target, cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr  # never overwritten

    sealed = backup_create(
        output=tmp_path / "drill.tar.gz.sm4", materials_dir=live_materials, recipient=public
    )
    assert sealed.recipient and sealed.recipient in sealed.describe()
    body = sealed.path.read_bytes()
    assert body.startswith(b"TONGBAN-SEALED-BACKUP\n")
    # Nothing readable inside: no gzip stream, no manifest, no applicant's data or file.
    name = world["citizen"].citizen.real_name
    for plain in (b"\x1f\x8b\x08", b"manifest.json", name.encode(), f.PDF[:64]):
        assert plain not in body[200:]

    # Without the key, or with another one: refused before anything is touched.
    refused = tongban("restore", str(sealed.path), target=fresh_target, cwd=tmp_path)
    assert refused.returncode == 1 and "--key" in refused.stderr
    other = tmp_path / "other.sm2"
    tongban("backup-key", str(other), target=fresh_target, cwd=tmp_path)
    wrong = tongban(
        "restore", str(sealed.path), "--key", str(other), target=fresh_target, cwd=tmp_path
    )
    assert wrong.returncode == 1 and sealed.recipient in wrong.stderr
    assert is_empty(fresh_target)

    # A retired key offered beside the right one: the one it was sealed to is used.
    done = tongban(
        "restore",
        str(sealed.path),
        "--key",
        str(other),
        "--key",
        str(key_file),
        target=fresh_target,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert snapshot(fresh_target.alias) == before
    assert not list(fresh_target.var_dir.rglob(".unsealed*"))  # the decrypted copy is gone


@pytest.mark.parametrize(
    "where",
    ["header", "middle", "tag", "truncated", "segment-dropped", "segments-swapped", "no-final"],
)
def test_altered_sealed_archive_is_refused_before_anything_is_touched(
    world: dict[str, Any],
    live_materials: Path,
    fresh_target: Target,
    tmp_path: Path,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tongban.core.crypto import sm2_keypair

    seed(world, cases=1)
    private, public = sm2_keypair()
    monkeypatch.setattr(backup_module, "SEAL_SEGMENT_BYTES", 4096)  # many segments
    sealed = backup_create(
        output=tmp_path / "b.tar.gz.sm4", materials_dir=live_materials, recipient=public
    )
    body = bytearray(sealed.path.read_bytes())
    header_end = body.index(b"}") + 1
    segment = 4096 + 16
    assert (len(body) - header_end) // segment > 3
    if where == "header":
        at = body.index(b'"nonce_prefix": "') + 19
        body[at] = ord("0") if body[at] != ord("0") else ord("1")
    elif where == "middle":
        body[len(body) // 2] ^= 0x01
    elif where == "tag":
        body[-1] ^= 0x01
    elif where == "truncated":
        del body[-100:]
    elif where == "segment-dropped":
        del body[header_end + segment : header_end + 2 * segment]
    elif where == "segments-swapped":
        first = body[header_end : header_end + segment]
        second = body[header_end + segment : header_end + 2 * segment]
        body[header_end : header_end + 2 * segment] = second + first
    else:  # cut exactly at a segment boundary: every remaining segment is intact
        full = (len(body) - header_end) // segment
        del body[header_end + full * segment :]
    bad = tmp_path / "bad.sm4"
    bad.write_bytes(bytes(body))
    with pytest.raises(BackupError, match=r"authentication|truncated|damaged"):
        backup_restore(
            archive=bad,
            materials_dir=fresh_target.materials,
            using=fresh_target.alias,
            private_key=private,
        )
    assert is_empty(fresh_target)
    staged = [p for p in fresh_target.var_dir.parent.rglob("*") if ".tongban-restore-" in str(p)]
    assert staged == []  # nothing decrypted left behind


def test_backup_command_seals_to_the_configured_key_and_warns_otherwise(
    world: dict[str, Any],
    live_materials: Path,
    tmp_path: Path,
    settings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from django.core.management import call_command

    from tongban.core.crypto import sm2_keypair

    seed(world, cases=1)
    out = tmp_path / "out"
    out.mkdir()
    call_command("backup", output=str(out))
    captured = capsys.readouterr()
    assert "NOT ENCRYPTED" in captured.out and "备份未加密" in captured.err
    _private, public = sm2_keypair()
    settings.TONGBAN = {**settings.TONGBAN, "BACKUP_PUBLIC_KEY": public}
    call_command("backup", output=str(out))
    (sealed,) = out.glob("tongban-backup-*.tar.gz.sm4")
    assert "SM4-GCM" in capsys.readouterr().out
    assert sealed.read_bytes().startswith(b"TONGBAN-SEALED-BACKUP\n")
    settings.TONGBAN = {**settings.TONGBAN, "BACKUP_PUBLIC_KEY": "04" + "ab" * 64}
    with pytest.raises(Exception, match="恢复公钥无效"):
        call_command("backup", output=str(out))


def test_sealing_in_segments_round_trips_at_every_boundary(tmp_path: Path) -> None:
    """Segments of 1 KiB: lengths that end exactly on a boundary get an empty final segment."""
    from tongban.core.crypto import sm2_keypair
    from tongban.ops.backup import _SealingWriter, archive_unseal

    private, public = sm2_keypair()
    for size in (0, 1, 1023, 1024, 1025, 3 * 1024, 5000):
        plain = os.urandom(size)
        sealed = tmp_path / f"{size}.sm4"
        with sealed.open("wb") as raw:
            writer = _SealingWriter(raw, public, segment_bytes=1024)
            for at in range(0, size, 700):  # written in pieces that straddle segments
                writer.write(plain[at : at + 700])
            writer.seal()
        out = tmp_path / f"{size}.out"
        archive_unseal(sealed, out, private)
        assert out.read_bytes() == plain


def test_a_header_with_wrong_sizes_is_a_clear_error() -> None:
    from tongban.core.crypto import sm2_encrypt, sm2_keypair
    from tongban.ops.backup import _header_secrets

    private, public = sm2_keypair()
    good = {
        "sealed_key": sm2_encrypt(public, os.urandom(16)).hex(),
        "nonce_prefix": os.urandom(8).hex(),
        "segment_bytes": 4096,
    }
    assert _header_secrets(good, private)[2] == 4096
    for change in (
        {"nonce_prefix": "ab"},
        {"segment_bytes": 10},
        {"sealed_key": sm2_encrypt(public, os.urandom(8)).hex()},
        {"segment_bytes": "x"},
        {"segment_bytes": float("inf")},
        {"segment_bytes": 4096.0},
    ):
        with pytest.raises(BackupError, match="header damaged"):
            _header_secrets({**good, **change}, private)


def test_a_sealed_backup_stages_its_plaintext_dump_beside_the_materials(
    world: dict[str, Any], live_materials: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output of a sealed backup may be an off-host mount: the plaintext dump must not be
    written there, even for the moment the backup runs."""
    import tempfile

    from tongban.core.crypto import sm2_keypair

    seed(world, cases=1)
    staged: list[Path] = []
    real = tempfile.TemporaryDirectory

    def recording(*args: Any, **kwargs: Any) -> Any:
        staged.append(Path(kwargs["dir"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(backup_module.tempfile, "TemporaryDirectory", recording)
    offsite = tmp_path / "offsite"
    offsite.mkdir()
    backup_create(
        output=offsite / "b.tar.gz.sm4", materials_dir=live_materials, recipient=sm2_keypair()[1]
    )
    backup_create(output=offsite / "b.tar.gz", materials_dir=live_materials)
    assert staged == [live_materials.parent, offsite]


def test_a_deeply_nested_header_is_a_clear_error(tmp_path: Path) -> None:
    from tongban.ops.backup import SEALED_MAGIC, archive_unseal

    header = b"[" * 60_000
    bad = tmp_path / "nested.sm4"
    bad.write_bytes(SEALED_MAGIC + len(header).to_bytes(4, "big") + header)
    with pytest.raises(BackupError, match="header damaged"):
        archive_unseal(bad, tmp_path / "out", "1" * 64)
    assert not (tmp_path / "out").exists()
