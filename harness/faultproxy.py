"""A small asyncio TCP proxy on loopback that injects dependency faults.

Put it between the app and any TCP dependency (PostgreSQL today; a registry's HTTP adapter
later — point the adapter's base URL at the proxy port) and switch the mode at run time:

``pass``            forward both ways.
``delay <ms>``      forward, each chunk held back <ms> (a slow network or a slow server).
``reset``           abort every open connection with a TCP RST; new ones are accepted and
                    reset at once (a dependency that crashes or restarts).
``blackhole``       accept, never answer: new connections are accepted and their bytes
                    swallowed; open connections stop forwarding too (a hung server or
                    pooler, a stalled network). Leaving blackhole aborts those connections.
``refuse``          stop listening (connection refused) and abort open connections (the
                    dependency's host is up, the service is down).

In-process (what the harness scenarios do)::

    proxy = FaultProxy(upstream=("127.0.0.1", 5432)).start()   # listens on proxy.port
    proxy.set_mode("delay", delay_ms=3000)
    proxy.set_mode("pass")
    proxy.stop()

Out of process, with a line-oriented control socket::

    python harness/faultproxy.py --upstream 127.0.0.1:5432 --listen 127.0.0.1:6543 \\
        --control 127.0.0.1:6544
    printf 'blackhole\\n' | nc 127.0.0.1 6544     # → "ok blackhole"
    printf 'delay 250\\n' | nc 127.0.0.1 6544     # → "ok delay 250"
    printf 'status\\n' | nc 127.0.0.1 6544        # → "ok pass connections=… accepted=…"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import sys
import threading
from dataclasses import dataclass, field

MODES = ("pass", "delay", "reset", "blackhole", "refuse")
CHUNK = 65536


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0, so the peer gets a RST rather than an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)  # identity: links live in a set
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    blackholed: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        _abort_with_rst(self.client)
        if self.upstream is not None:
            self.upstream.transport.abort()
        for task in self.tasks:
            task.cancel()


@dataclass
class Stats:
    accepted: int = 0
    reset: int = 0
    blackholed: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class FaultProxy:
    """The proxy; runs its own event loop in a daemon thread; every method is thread-safe."""

    def __init__(
        self,
        upstream: tuple[str, int],
        listen: tuple[str, int] = ("127.0.0.1", 0),
        control: tuple[str, int] | None = None,
    ) -> None:
        if listen[0] not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the fault proxy listens on loopback only")
        self.upstream = upstream
        self.listen_host, self.port = listen
        self.control_address = control
        self.mode = "pass"
        self.delay_ms = 0
        self.stats = Stats()
        self._links: set[_Link] = set()
        self._server: asyncio.base_events.Server | None = None
        self._control_server: asyncio.base_events.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # ---------------------------------------------------------------- public, thread-safe

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        if self.control_address is not None:
            self._call(self._listen_control())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def set_mode(self, mode: str, delay_ms: int = 0) -> None:
        self._call(self._set_mode(mode, delay_ms))

    def describe(self) -> str:
        s = self.stats
        mode = f"delay {self.delay_ms}" if self.mode == "delay" else self.mode
        return (
            f"{mode} connections={len(self._links)} accepted={s.accepted} reset={s.reset} "
            f"blackholed={s.blackholed} bytes_up={s.bytes_up} bytes_down={s.bytes_down}"
        )

    def _call(self, coroutine: object) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        future.result(timeout=10)

    # ---------------------------------------------------------------- inside the loop

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.listen_host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _listen_control(self) -> None:
        assert self.control_address is not None
        host, port = self.control_address
        self._control_server = await asyncio.start_server(self._control, host, port)
        self.control_address = (host, self._control_server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        for server in (self._server, self._control_server):
            if server is not None:
                server.close()
        for link in list(self._links):
            link.abort()
        self._links.clear()

    async def _set_mode(self, mode: str, delay_ms: int) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        previous = self.mode
        self.mode, self.delay_ms = mode, max(0, int(delay_ms))
        if previous == "blackhole" and mode != "blackhole":
            # Their bytes were swallowed: the protocol state is lost, end them.
            for link in [link for link in self._links if link.blackholed]:
                self._drop(link)
        if mode in ("reset", "refuse"):
            for link in list(self._links):
                self.stats.reset += 1
                self._drop(link)
        elif mode == "blackhole":
            for link in self._links:
                link.blackholed = True
        if mode == "refuse" and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        elif mode != "refuse" and self._server is None:
            await self._listen()

    def _drop(self, link: _Link) -> None:
        link.abort()
        self._links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        if self.mode == "reset":
            self.stats.reset += 1
            _abort_with_rst(writer)
            return
        link = _Link(writer)
        self._links.add(link)
        if self.mode == "blackhole":
            link.blackholed = True
            self.stats.blackholed += 1
            # Swallow until the client leaves, or until _drop aborts the transport (EOF).
            with contextlib.suppress(Exception):
                while await reader.read(CHUNK):
                    pass
            self._drop(link)
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.upstream), timeout=10
            )
        except (OSError, TimeoutError):
            self._drop(link)
            return
        link.upstream = up_writer
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, up_writer, up=True)),
            asyncio.create_task(self._pump(link, up_reader, writer, up=False)),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)
        self._drop(link)

    async def _pump(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        up: bool,
    ) -> None:
        try:
            while data := await reader.read(CHUNK):
                if link.blackholed:
                    continue  # swallowed
                if self.mode == "delay" and self.delay_ms:
                    await asyncio.sleep(self.delay_ms / 1000)
                    if link.blackholed:
                        continue
                if up:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # One side ended: end the other so the peer sees it (FIN, or RST if aborted).
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.write_eof()

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                words = line.decode(errors="replace").split()
                if not words:
                    continue
                command = words[0].lower()
                try:
                    if command == "status":
                        answer = f"ok {self.describe()}"
                    elif command in MODES:
                        delay = int(words[1]) if command == "delay" and len(words) > 1 else 0
                        await self._set_mode(command, delay)
                        answer = "ok " + " ".join(words[:2] if command == "delay" else words[:1])
                    else:
                        answer = f"error unknown command {command!r}"
                except ValueError as error:
                    answer = f"error {error}"
                writer.write((answer + "\n").encode())
                await writer.drain()
        finally:
            writer.close()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TCP fault-injection proxy (loopback)")
    parser.add_argument("--upstream", required=True, help="host:port to forward to")
    parser.add_argument("--listen", default="127.0.0.1:0", help="loopback host:port")
    parser.add_argument("--control", default="127.0.0.1:0", help="control socket host:port")
    parser.add_argument("--seconds", type=float, default=3600, help="exit after this long")
    args = parser.parse_args(argv)
    proxy = FaultProxy(_address(args.upstream), _address(args.listen), _address(args.control))
    proxy.start()
    assert proxy.control_address is not None
    print(
        f"faultproxy listening on 127.0.0.1:{proxy.port} → {args.upstream}; "
        f"control on {proxy.control_address[0]}:{proxy.control_address[1]}",
        flush=True,
    )
    try:
        threading.Event().wait(args.seconds)
    except KeyboardInterrupt:
        pass
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
