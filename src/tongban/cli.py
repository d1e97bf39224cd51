"""The `tongban` command: demo, audit verify, backup/restore, bench, totp, license verify,
manage passthrough."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType


def _setup(settings: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    os.environ.setdefault("TONGBAN_VAR_DIR", str(Path.cwd() / "var"))
    Path(os.environ["TONGBAN_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


# `tongban demo` stops gunicorn on SIGTERM and SIGINT: gunicorn's own graceful shutdown, then
# a few seconds more before the process group is killed.
GUNICORN_GRACEFUL_SECONDS = 5
STOP_GRACE_SECONDS = GUNICORN_GRACEFUL_SECONDS + 5
BEAT_JOIN_SECONDS = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to send the child SIGTERM when this process dies, even by
    SIGKILL, so gunicorn never goes on serving without `tongban demo`. None elsewhere.

    The kernel sends it when the thread that forked the child exits: the main thread here."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # libc, looked up before the fork
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return set_parent_death_signal


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


@contextlib.contextmanager
def _stop_signals_forwarded(group: int) -> Iterator[threading.Event]:
    """While inside, SIGTERM and SIGINT are passed on to the process group and set the event
    yielded; the previous handlers come back on leaving."""
    requested = threading.Event()

    def forward(signum: int, _frame: FrameType | None) -> None:
        requested.set()
        _signal_group(group, signum)

    previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}
    try:
        yield requested
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _wait_for_server(server: subprocess.Popen[bytes], stop_requested: threading.Event) -> int:
    """Wait until gunicorn exits; once a stop was requested, give it STOP_GRACE_SECONDS, then
    SIGKILL its group. Return its exit status (128 + the signal number if a signal ended it,
    as a shell reports it)."""
    while server.poll() is None and not stop_requested.wait(0.5):
        pass
    try:
        server.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(server.pid, signal.SIGKILL)
        server.wait()
    # Workers outlive a master that crashed; none of them may keep the port.
    _signal_group(server.pid, signal.SIGKILL)
    return server.returncode if server.returncode >= 0 else 128 - server.returncode


def demo(args: argparse.Namespace) -> int:
    """Migrate SQLite under ./var, seed demo data, print accounts, serve on 127.0.0.1:PORT
    with gunicorn and the embedded beat until SIGTERM or SIGINT, which stop both."""
    _setup("tongban.config.settings.dev")
    from django.core.management import call_command

    from tongban.demo.seed import seed_demo

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    accounts = seed_demo()
    base = f"http://{args.host}:{args.port}"
    print("\n通办 Tongban demo — 演示环境 (SQLite: var/tongban.sqlite3)\n")
    print(f"  门户 Portal      {base}/")
    print(f"  工作台 Workbench {base}/workbench/")
    print(f"  后台 Admin       {base}/admin/")
    print(f"  API docs         {base}/api/docs   OpenAPI {base}/api/openapi.json\n")
    print("  演示账号 Demo accounts (staff also need a TOTP code: `tongban totp USERNAME`):")
    for account in accounts:
        print(f"    {account.username:<18} {account.password:<18} {account.role}  {account.note}")
    print(flush=True)
    if args.no_serve:
        return 0
    # Periodic work (audit anchoring, licence expiry, message retries…) runs in this process:
    # the embedded default has no broker for `celery beat` (ops/periodic.py).
    from tongban.edge.shedding import gunicorn_threads
    from tongban.ops.periodic import start_embedded_beat

    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "tongban.config.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        "2",
        "--threads",
        str(gunicorn_threads()),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        str(GUNICORN_GRACEFUL_SECONDS),
    ]
    # gunicorn before the beat: a preexec_fn runs between fork and exec, which is safe only
    # while this process has no other thread.
    server = subprocess.Popen(  # noqa: S603 — our own interpreter and arguments
        command,
        env=os.environ.copy(),
        process_group=0,  # its own group: one signal reaches the master and its workers
        preexec_fn=_die_with_parent(),
    )
    try:
        with _stop_signals_forwarded(server.pid) as stop_requested:
            beat_stop = threading.Event()
            beat = start_embedded_beat(beat_stop)
            try:
                return _wait_for_server(server, stop_requested)
            finally:
                beat_stop.set()
                beat.join(timeout=BEAT_JOIN_SECONDS)
    finally:
        if server.poll() is None:  # left by an error above: never leave it serving
            _signal_group(server.pid, signal.SIGKILL)
            server.wait()


def audit(args: argparse.Namespace) -> int:
    _setup(os.environ.get("DJANGO_SETTINGS_MODULE", "tongban.config.settings.dev"))
    from tongban.core.audit import audit_verify

    report = audit_verify()
    print(report.describe())
    return 0 if report.ok else 1


def _command(name: str, *args: str, **options: object) -> int:
    """Run a management command; a CommandError is printed and exits 1 (no traceback)."""
    _setup(os.environ.get("DJANGO_SETTINGS_MODULE", "tongban.config.settings.dev"))
    from django.core.management import call_command
    from django.core.management.base import CommandError

    try:
        call_command(name, *args, **options)
    except CommandError as error:
        print(f"{name} failed: {error}", file=sys.stderr)
        return 1
    return 0


def backup(args: argparse.Namespace) -> int:
    """One tar.gz: database dump, material files, manifest, sealed to the recovery key when
    one is configured (ADR 0007)."""
    return _command("backup", output=args.output, recipient=args.recipient)


def backup_key(args: argparse.Namespace) -> int:
    """A new recovery key pair for sealed backups: the private key to a file kept offline."""
    return _command("backup_key", args.path)


def restore(args: argparse.Namespace) -> int:
    """Restore into an empty database and materials directory, then verify (ADR 0007)."""
    return _command("restore", args.archive, force=args.force, key=args.key)


def materials(args: argparse.Namespace) -> int:
    """`tongban materials sweep`: delete material files no submission refers to (left by
    rolled-back submissions), older than --older-than-hours; --dry-run only counts them."""
    _setup(os.environ.get("DJANGO_SETTINGS_MODULE", "tongban.config.settings.dev"))
    from datetime import timedelta

    from tongban.cases.submission.materials import materials_sweep
    from tongban.core.errors import DomainError

    try:
        result = materials_sweep(
            older_than=timedelta(hours=args.older_than_hours), dry_run=args.dry_run
        )
    except DomainError as error:
        print(f"{error.message} ({error.code})", file=sys.stderr)
        return 2
    verb = "would delete" if result.dry_run else "deleted"
    print(
        f"材料文件清理 (materials sweep): checked {result.checked} files, {verb} "
        f"{result.deleted} unreferenced ({result.bytes_freed} bytes)"
    )
    return 0


def totp(args: argparse.Namespace) -> int:
    """Print the current TOTP code of a staff account (for demo accounts in a demo database)."""
    _setup(os.environ.get("DJANGO_SETTINGS_MODULE", "tongban.config.settings.dev"))
    from django_otp.oath import totp as totp_code
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user__username=args.username, confirmed=True).first()
    if device is None:
        print(f"no TOTP device for {args.username}", file=sys.stderr)
        return 1
    print(f"{totp_code(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}")
    return 0


def bench(args: argparse.Namespace) -> int:
    """Run bench/<name>.py from the repository (the benchmarks are not part of the package)."""
    import importlib

    root = Path.cwd()
    available = sorted(p.stem for p in (root / "bench").glob("*.py") if not p.stem.startswith("_"))
    if args.name not in available:
        print(
            f"no benchmark {args.name!r} in {root / 'bench'}; run from the repository root. "
            f"Available: {', '.join(available) or 'none'}",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, str(root))
    module = importlib.import_module(f"bench.{args.name}")
    return int(module.main(args.rest))


def license_command(args: argparse.Namespace) -> int:
    """`tongban license verify FILE --trust TRUSTLIST…`: offline, no database (ADR 0010).
    Exit status 0 when the licence verifies, 1 when it does not, 2 on unreadable input."""
    import json

    from tongban.licenses.offline import license_file_verify

    try:
        content = Path(args.file).read_bytes()
        trust_lists = [json.loads(Path(path).read_text(encoding="utf-8")) for path in args.trust]
    except (OSError, ValueError) as error:
        print(f"无法读取文件 (cannot read input): {error}", file=sys.stderr)
        return 2
    result = license_file_verify(content, trust_lists)
    if args.json:
        print(json.dumps({"ok": result.ok, "code": result.code, "message": result.message}))
    else:
        print(result.describe())
    return 0 if result.ok else 1


def manage(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tongban.config.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["tongban manage", *args.rest])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tongban", description="通办 一体化政务服务平台")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the platform on SQLite with seeded demo data")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--no-serve", action="store_true", help="seed and print accounts, do not serve")
    p.set_defaults(func=demo)
    p = sub.add_parser("audit", help="audit log tools")
    p.add_argument("action", choices=["verify"])
    p.set_defaults(func=audit)
    p = sub.add_parser("backup", help="back up the database and material files to one archive")
    p.add_argument("--output", "-o", help="archive path or directory (default: var/backups/)")
    p.add_argument(
        "--recipient", help="seal to this SM2 public key (default: TONGBAN_BACKUP_PUBLIC_KEY)"
    )
    p.set_defaults(func=backup)
    p = sub.add_parser("backup-key", help="create a recovery key pair for sealed backups")
    p.add_argument("path", help="where to write the private key (keep it off the server)")
    p.set_defaults(func=backup_key)
    p = sub.add_parser("restore", help="restore a backup into an empty database, then verify it")
    p.add_argument("archive")
    p.add_argument("--force", action="store_true", help="replace a non-empty target")
    p.add_argument(
        "--key", action="append", help="recovery private key file (sealed backups; repeatable)"
    )
    p.set_defaults(func=restore)
    p = sub.add_parser("materials", help="material file housekeeping")
    p.add_argument("action", choices=["sweep"])
    p.add_argument("--older-than-hours", type=float, default=24.0)
    p.add_argument("--dry-run", action="store_true", help="count, do not delete")
    p.set_defaults(func=materials)
    p = sub.add_parser("totp", help="current TOTP code of a demo staff account")
    p.add_argument("username")
    p.set_defaults(func=totp)
    p = sub.add_parser("bench", help="benchmarks (bench/)")
    p.add_argument("name", help="a benchmark in bench/: submit, log, lookup …")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=bench)
    p = sub.add_parser("license", help="electronic licences (电子证照)")
    license_sub = p.add_subparsers(dest="license_command", required=True)
    verify = license_sub.add_parser("verify", help="verify an exported licence file offline")
    verify.add_argument("file", help="licence file (JSON) exported from the portal or API")
    verify.add_argument(
        "--trust",
        action="append",
        required=True,
        metavar="TRUSTLIST",
        help="trust list JSON (GET /api/v1/licenses/trust-list); repeat for several regions",
    )
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(func=license_command)
    p = sub.add_parser("manage", help="Django management commands")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=manage)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
