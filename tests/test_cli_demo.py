"""`tongban demo` stops what it started: SIGTERM or SIGINT stops its gunicorn (master and
workers) and the embedded beat, and a `tongban demo` killed outright takes gunicorn with it.

Each case runs the real command in a subprocess on a free port, with its own copy of a var
directory migrated and seeded once for the module (SQLite), and watches the port and the
gunicorn process group from outside, as an operator would."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

SEED_TIMEOUT = 300  # a fresh migrate + seed takes ~30 s here; CI machines are slower
START_TIMEOUT = 120
STOP_TIMEOUT = 10  # gunicorn's graceful timeout is 5 s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo_env(var_dir: Path) -> dict[str, str]:
    """This interpreter's environment without the test settings and database: the demo uses
    its own settings and SQLite under var_dir, whatever DATABASE_URL the suite runs on."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    }
    env["TONGBAN_VAR_DIR"] = str(var_dir)
    return env


def _tongban(*args: str) -> list[str]:
    return [sys.executable, "-m", "tongban.cli", *args]


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


class Process(NamedTuple):
    pid: int
    group: int
    command: str


def _live_processes() -> dict[int, Process]:
    """Every process but zombies (a zombie serves nothing: it only waits for its parent to
    read its exit status), from ps."""
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,pgid=,stat=,args="],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in listing.splitlines():
        pid, group, state, command = line.split(None, 3)
        if not state.startswith("Z"):
            found[int(pid)] = Process(int(pid), int(group), command)
    return found


def _children(pid: int) -> list[int]:
    found = subprocess.run(  # noqa: S603
        ["pgrep", "-P", str(pid)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return sorted(int(child) for child in found)


class DemoRun:
    """`tongban demo --port PORT` in a subprocess, its output in a file beside its var dir."""

    def __init__(self, root: Path, seeded: Path) -> None:
        self.port = _free_port()
        shutil.copytree(seeded, root / "var")
        self.log = root / "demo.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603
                _tongban("demo", "--port", str(self.port)),
                env=_demo_env(root / "var"),
                cwd=root,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.master: int | None = None
        self.workers: list[int] = []

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def wait_serving(self) -> None:
        """Until /healthz answers 200 and the gunicorn master and its two workers are up."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"tongban demo exited early:\n{self.tail()}"
            if self.master is None:
                self.master = next(iter(_children(self.process.pid)), None)
            if self.master is not None:
                self.workers = _children(self.master)
                if len(self.workers) == 2 and self._healthz() == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"tongban demo not serving after {START_TIMEOUT} s:\n{self.tail()}")

    def gunicorn(self) -> list[Process]:
        """The gunicorn processes of this run still alive (the pids seen while serving, still
        running gunicorn: never another program that got a pid back)."""
        pids = [self.master, *self.workers] if self.master is not None else []
        alive = _live_processes()
        return [alive[pid] for pid in pids if pid in alive and "gunicorn" in alive[pid].command]

    def _healthz(self) -> int | None:
        url = f"http://127.0.0.1:{self.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except OSError:
            return None

    def wait_port_closed(self) -> None:
        """Until the port refuses connections; at most STOP_TIMEOUT."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not _accepts_connections(self.port):
                return
            time.sleep(0.1)
        raise AssertionError(f"port {self.port} still open after {STOP_TIMEOUT} s:\n{self.tail()}")

    def wait_gunicorn_gone(self) -> list[Process]:
        """Until no gunicorn process of this run is left; at most STOP_TIMEOUT. What is left."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.gunicorn() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.gunicorn()

    def kill_everything(self) -> None:
        """Leave nothing behind, whatever the test did (or the code under test failed to)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for process in self.gunicorn():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def seeded_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A var dir with the demo database migrated and seeded (`tongban demo --no-serve`)."""
    root = tmp_path_factory.mktemp("demo-seed")
    done = subprocess.run(  # noqa: S603
        _tongban("demo", "--no-serve"),
        env=_demo_env(root / "var"),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=SEED_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "var"


@pytest.fixture
def demo(tmp_path: Path, seeded_var_dir: Path) -> Iterator[DemoRun]:
    run = DemoRun(tmp_path, seeded_var_dir)
    yield run
    run.kill_everything()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_stop_signal_stops_gunicorn_and_the_demo_exits_cleanly(
    demo: DemoRun, stop_signal: signal.Signals
) -> None:
    # Given tongban demo serving: a gunicorn master and two workers in the master's own group.
    demo.wait_serving()
    assert [process.group for process in demo.gunicorn()] == [demo.master] * 3

    # When tongban demo is asked to stop.
    demo.process.send_signal(stop_signal)

    # Then gunicorn got the signal, the port closes within seconds, tongban demo exits with
    # gunicorn's status 0, and no gunicorn process of this run is left.
    demo.wait_port_closed()
    assert demo.process.wait(timeout=STOP_TIMEOUT) == 0, demo.tail()
    assert demo.wait_gunicorn_gone() == []
    assert f"Handling signal: {stop_signal.name.removeprefix('SIG').lower()}" in demo.tail()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_gunicorn_does_not_outlive_a_demo_killed_outright(demo: DemoRun) -> None:
    # Given tongban demo serving.
    demo.wait_serving()
    assert len(demo.gunicorn()) == 3

    # When tongban demo is killed with no chance to clean up.
    demo.process.send_signal(signal.SIGKILL)
    assert demo.process.wait(timeout=STOP_TIMEOUT) == -signal.SIGKILL

    # Then the kernel's parent-death signal stops gunicorn: the port closes, nothing is left.
    demo.wait_port_closed()
    assert demo.wait_gunicorn_gone() == []
