"""Shared pieces of the reliability harness.

A throw-away PostgreSQL database (``tongban_harness_*``, dropped afterwards), the app's
environment (production settings on loopback), a seeded world, gunicorn as a child process,
RSS sampling from /proc, and the integrity checks every scenario ends with.

Each scenario is one process: it calls :func:`setup_django` once, with the direct database
URL, and then uses the ORM for seeding and checking while gunicorn serves the traffic.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("HARNESS_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_PREFIX = "tongban_harness_"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)


# --------------------------------------------------------------------------- database


def _admin_connect() -> Any:
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


def database_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def exit_on_sigterm() -> None:
    """Turn SIGTERM (e.g. from `timeout`) into SystemExit, so cleanup (stop gunicorn, drop
    the database) runs in `finally` blocks."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def run_tag() -> str:
    """Names this run's databases: run_all.sh sets HARNESS_RUN_TAG to clean up after a
    scenario that was killed; alone, a scenario uses its process id."""
    tag = os.environ.get("HARNESS_RUN_TAG") or str(os.getpid())
    assert re.fullmatch(r"[a-z0-9]+", tag), tag
    return tag


@contextlib.contextmanager
def scratch_database(label: str) -> Iterator[str]:
    """Create ``tongban_harness_<tag>_<label>``; drop it afterwards (even on failure)."""
    name = f"{DB_PREFIX}{run_tag()}_{label}"
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    with _admin_connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    log(f"database {name} created")
    try:
        yield name
    finally:
        _close_django_connections()
        if os.environ.get("HARNESS_KEEP_DB"):
            log(f"database {name} kept (HARNESS_KEEP_DB)")
        else:
            with _admin_connect() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            log(f"database {name} dropped")


def _close_django_connections() -> None:
    if "django" in sys.modules:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()


# --------------------------------------------------------------------------- app environment


@dataclass
class AppEnv:
    """Everything the app and the harness share: settings, database, var dir."""

    db_name: str
    var_dir: Path
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return database_url(self.db_name)

    def environ(self, database_url: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        # TONGBAN_* tuning variables of the caller pass through (e.g. TONGBAN_MAX_IN_FLIGHT);
        # the database, settings module and var dir are always the harness's own.
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tongban.config.settings.production",
                "SECRET_KEY": self.secret_key,
                "ALLOWED_HOSTS": "127.0.0.1",
                "SECURE_SSL_REDIRECT": "false",
                "SESSION_COOKIE_SECURE": "false",
                "CSRF_COOKIE_SECURE": "false",
                "DATABASE_URL": database_url or self.db_url,
                "TONGBAN_VAR_DIR": str(self.var_dir),
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra)
        return env


@contextlib.contextmanager
def app_environment(label: str, **extra: str) -> Iterator[AppEnv]:
    """A scratch database and var dir; Django set up in this process against them."""
    var_dir = Path(tempfile.mkdtemp(prefix=f"tongban-harness-{label}-"))
    (var_dir / "static").mkdir()
    try:
        with scratch_database(label) as name:
            app = AppEnv(name, var_dir, extra=dict(extra))
            setup_django(app)
            yield app
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def setup_django(app: AppEnv) -> None:
    os.environ.update(app.environ())
    import django

    django.setup()
    from django.core.management import call_command

    began = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    log(f"migrated in {time.monotonic() - began:.1f} s")


# --------------------------------------------------------------------------- world


@dataclass
class World:
    item_code: str
    item_codes: list[str]
    tokens: list[str]  # one API token per citizen, same order as user_ids
    user_ids: list[int]


def seed_world(citizens: int = 6, extra_items: int = 8) -> World:
    """Divisions, a department, published items (mandatory material M01), citizens + tokens."""
    from datetime import date

    from tongban.catalog.models import Material, ServiceItem
    from tongban.catalog.services import item_publish
    from tongban.core.ids import synthetic_id_number, uscc_checksum
    from tongban.core.models import Division
    from tongban.identity.models import Department
    from tongban.identity.services import api_token_issue, citizen_register

    for code, name, level, parent in (
        ("000000", "中华人民共和国", "nation", None),
        ("440000", "广东省", "province", "000000"),
        ("440100", "广州市", "city", "440000"),
    ):
        Division.objects.get_or_create(
            code=code, defaults={"name": name, "level": level, "parent_id": parent}
        )
    first17 = "11440100MB0000001"
    department = Department.objects.create(
        code=first17 + uscc_checksum(first17), name="广州市公安局", division_id="440100"
    )
    codes = []
    for n in range(1 + extra_items):
        catalog_code = f"4401010{n:05d}"
        item = ServiceItem.objects.create(
            implementation_code=f"{department.code}3{catalog_code}",
            catalog_code=catalog_code,
            name=f"户口迁入登记（压测{n}）",
            item_type="07",
            department=department,
            division_id="440100",
            conditions="符合迁入条件",
            legal_limit_days=20,
            committed_limit_days=5,
            service_objects=["citizen"],
            themes=["户籍办理"],
            form_schema={
                "type": "object",
                "required": ["reason", "move_date"],
                "properties": {
                    "reason": {"type": "string", "title": "申请事由", "maxLength": 200},
                    "move_date": {"type": "string", "title": "日期", "format": "date"},
                    "household_size": {
                        "type": "integer",
                        "title": "人数",
                        "minimum": 1,
                        "maximum": 20,
                    },
                },
            },
        )
        Material.objects.create(item=item, code="M01", name="居民身份证", is_mandatory=True)
        item_publish(item=item, actor="harness")
        codes.append(item.implementation_code)
    tokens, user_ids = [], []
    for n in range(citizens):
        citizen = citizen_register(
            real_name=f"压测{n}",
            id_number=synthetic_id_number("440106", date(1990, 1, 1 + n % 27), n + 1),
            phone=f"137{n:08d}",
        )
        token, _ = api_token_issue(user=citizen.user)
        tokens.append(token)
        user_ids.append(citizen.user_id)
    return World(codes[0], codes, tokens, user_ids)


# --------------------------------------------------------------------------- gunicorn


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def children(pid: int) -> list[int]:
    """Direct children of pid, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"


class Gunicorn:
    """gunicorn serving tongban on a loopback port, as its own process group."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        port: int | None = None,
        workers: int = 2,
        threads: int | None = None,
        log_path: Path,
        cpus: set[int] | None = None,
    ) -> None:
        self.env = env
        self.cpus = cpus  # pin the server (master and workers) to these CPUs
        self.port = port or free_port()
        self.workers = workers
        if threads is None:  # the settings' in-flight limit + waiting stack + spares
            from tongban.edge.shedding import gunicorn_threads

            threads = gunicorn_threads()
        self.threads = threads
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def master_pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "tongban.config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--keep-alive",
            "5",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "--backlog",
            "512",
            "--log-level",
            "warning",
        ]
        if self.cpus:  # taskset (util-linux): the workers inherit the master's affinity
            command = ["taskset", "-c", ",".join(map(str, sorted(self.cpus))), *command]
        run_dir = os.environ.get("HARNESS_RUN_DIR")
        if run_dir:  # lets run_all.sh stop a server left behind by a killed scenario
            command += ["--pid", str(Path(run_dir) / f"gunicorn-{self.port}.pid")]
        log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 — our own interpreter and arguments
            command,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
            start_new_session=True,
        )
        log_file.close()
        self.starts += 1

    def worker_pids(self) -> list[int]:
        pid = self.master_pid
        return children(pid) if pid is not None and alive(pid) else []

    def wait_ready(self, timeout: float = 45.0) -> float:
        """Wait until /healthz answers 200 and all workers are up; return the seconds taken."""
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.tail()}")
            if (
                len(self.worker_pids()) >= self.workers
                and http_status(self.port, "/healthz") == 200
            ):
                return time.monotonic() - began
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready after {timeout} s: {self.tail()}")

    def kill_master(self, *, whole_group: bool) -> list[int]:
        """SIGKILL the master (and, for a hard crash, its workers). Return orphaned workers."""
        assert self.proc is not None
        workers = self.worker_pids()
        if whole_group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            self.proc.kill()
        self.proc.wait(timeout=10)
        return workers

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then SIGKILL of the group if needed."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        # The log lives in the scenario's var dir, removed before the verdict is printed.
        self._last_tail = self.tail(200)

    _last_tail = ""

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            text = self._last_tail
        return "\n".join(text.splitlines()[-lines:])


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait (bounded) for processes to exit; SIGKILL those still there. Return the killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    killed = [pid for pid in pids if alive(pid)]
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return killed


def http_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    """Blocking one-shot GET; None when the server does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.sendall(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
            )
            head = conn.recv(64)
    except OSError:
        return None
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- integrity


@dataclass
class IntegrityReport:
    applications: int = 0
    cases: int = 0
    materials: int = 0
    audit_records: int = 0
    orphan_files: int = 0
    problems: list[str] = field(default_factory=list)
    audit_output: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        head = (
            f"applications={self.applications} cases={self.cases} materials={self.materials} "
            f"audit_records={self.audit_records} orphan_files={self.orphan_files} "
            f"(files written by rolled-back transactions; harmless)"
        )
        if self.ok:
            return f"integrity OK: {head}; {self.audit_output}"
        shown = "\n    ".join(self.problems[:20])
        return f"integrity FAILED: {head}\n    {shown}"


def check_integrity(app: AppEnv, materials_per_application: int = 1) -> IntegrityReport:
    """No partial submission: every application has one case, its 'submit' step, its
    materials with intact files, one audit record; and `tongban audit verify` passes."""
    from django.core.files.storage import default_storage
    from django.db import connections
    from django.db.models import Count, Q

    from tongban.cases.models import Application, Case, MaterialSubmission
    from tongban.core.models import AuditRecord

    connections.close_all()  # fresh view after the server's writes
    report = IntegrityReport()
    apps = Application.objects.annotate(
        n_cases=Count("cases", distinct=True), n_materials=Count("materials", distinct=True)
    )
    for application in apps.iterator(chunk_size=1000):
        report.applications += 1
        if application.n_cases != 1:
            report.problems.append(f"application {application.pk} has {application.n_cases} cases")
        if application.n_materials != materials_per_application:
            report.problems.append(
                f"application {application.pk} has {application.n_materials} materials"
            )
    cases = Case.objects.annotate(
        n_submit=Count("transitions", filter=Q(transitions__action="submit")),
        n_steps=Count("transitions"),
    )
    case_ids = set()
    for case in cases.iterator(chunk_size=1000):
        report.cases += 1
        case_ids.add(str(case.pk))
        if case.n_submit != 1 or case.n_steps != 1:
            report.problems.append(
                f"case {case.case_number}: {case.n_submit} submit steps, {case.n_steps} steps"
            )
    referenced = set()
    for material in MaterialSubmission.objects.iterator(chunk_size=1000):
        report.materials += 1
        path = Path(default_storage.path(material.file.name))
        referenced.add(path.resolve())
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            report.problems.append(f"material {material.pk}: file {path} missing")
            continue
        if digest != material.sha256:
            report.problems.append(f"material {material.pk}: file sha256 does not match")
    submits = list(
        AuditRecord.objects.filter(action="case.submit").values_list("object_id", flat=True)
    )
    report.audit_records = len(submits)
    if len(submits) != len(set(submits)):
        report.problems.append("a case has more than one case.submit audit record")
    if set(submits) != case_ids:
        report.problems.append(
            f"audit records vs cases differ: {len(set(submits) - case_ids)} records without a "
            f"case, {len(case_ids - set(submits))} cases without a record"
        )
    root = Path(default_storage.location)
    if root.exists():
        report.orphan_files = sum(
            1 for path in root.rglob("*") if path.is_file() and path.resolve() not in referenced
        )
    verified, report.audit_output = audit_verify(app)
    if not verified:
        report.problems.append(f"tongban audit verify failed: {report.audit_output}")
    connections.close_all()
    return report


def audit_verify(app: AppEnv) -> tuple[bool, str]:
    """Run `tongban audit verify` against the scenario's database: (passed, its output)."""
    verify = subprocess.run(
        [sys.executable, "-m", "tongban.cli", "audit", "verify"],
        env=app.environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return verify.returncode == 0, (verify.stdout + verify.stderr).strip()
