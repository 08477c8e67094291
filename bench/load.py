"""The lean load generator: raw `websockets` connections spread over several processes.

Each load process holds a share of the connections and checks every frame it receives: a bench
message's content encodes its stream, sequence number and send time (`make_content`), and the
process rebuilds the exact content from those and compares, records which sequence numbers each
connection has seen (duplicates, gaps, reordering) and the send → receive latency. The parent
drives the processes over pipes (`LoadPool`) and gets counts and latency samples back.

Latency is measured across processes with CLOCK_MONOTONIC (`time.monotonic_ns`), which on Linux
is one clock for the whole machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import random
import resource
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import orjson
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PAD = "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. "
MAX_FRAME = 16 * 1024 * 1024
CONNECT_CONCURRENCY = 100


def make_content(stream: str, seq: int, sent_ns: int) -> str:
    """A bench message: `stream seq sent_ns` then padding that depends on seq (~120 chars)."""
    head = f"bench {stream} {seq} {sent_ns} "
    start = seq % len(PAD)
    return head + (PAD[start:] + PAD[:start])[: max(0, 120 - len(head))]


def parse_content(content: str) -> tuple[str, int, int] | None:
    """(stream, seq, sent_ns) of a bench message whose content is exactly right, else None."""
    parts = content.split(" ", 4)
    if len(parts) != 5 or parts[0] != "bench":
        return None
    try:
        stream, seq, sent_ns = parts[1], int(parts[2]), int(parts[3])
    except ValueError:
        return None
    if make_content(stream, seq, sent_ns) != content:
        return None
    return stream, seq, sent_ns


def bare_frame(content: str, seq: int = 0) -> str:
    """What the bare server broadcasts: a frame shaped and sized like Parlour's message.created."""
    user = {
        "id": "01JDQ8ZK0Y4N3M2P5R7T9V1X3Z",
        "email": "sender.01jdq8zk0y4n3m2p5r7t9v1x3z@example.test",
        "full_name": "Sender Person",
        "status": "online",
        "is_admin": False,
        "is_active": True,
        "last_seen_at": None,
    }
    message: dict[str, object] = {
        "id": f"01JDQ8ZK0Y4N3M2P5R7T{seq:06d}",
        "room_id": "01JDQ8ZK0Y4N3M2P5R7T9V1ROOM",
        "author": user,
        "content": content,
        "html": f"<p>{content}</p>",
        "created_at": "2026-11-24T20:00:00.000000Z",
        "edited_at": None,
        "deleted": False,
        "client_id": f"c-{seq}",
        "mentions": [],
        "attachments": [],
    }
    return orjson.dumps(
        {"type": "message.created", "cursor": f"k3j4h5g6.{seq}", "message": message}
    ).decode()


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------------------------------------
# Inside a load process


@dataclass
class Seen:
    bits: bytearray = field(default_factory=bytearray)
    count: int = 0
    top: int = -1


class Conn:
    __slots__ = ("closed_codes", "cursor", "hello", "reconnects", "streams", "tag", "url", "ws")

    def __init__(self, url: str, tag: str = "") -> None:
        self.url = url
        self.tag = tag  # an expected stream named "name@tag" concerns only connections so tagged
        self.ws: ClientConnection | None = None
        self.cursor: str | None = None
        self.hello = asyncio.Event()
        self.streams: dict[str, Seen] = {}
        self.reconnects = 0
        self.closed_codes: list[int] = []


class Worker:
    def __init__(self, pipe: multiprocessing.connection.Connection) -> None:
        self.pipe = pipe
        self.conns: list[Conn] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.resume = False  # reconnect with since=cursor when the server closes
        self.stopping = False
        self.samples = array("d")
        self.received = 0
        self.last_ns = 0
        self.errors = 0
        self.duplicates = 0
        self.reordered = 0
        self.error_text: list[str] = []
        self.other_frames: dict[str, int] = {}

    def _error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_text) < 5:
            self.error_text.append(text[:300])

    def handle(self, conn: Conn, raw: str | bytes) -> None:
        now = time.monotonic_ns()
        try:
            frame: dict[str, Any] = orjson.loads(raw)
            kind = frame["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._error(f"not a JSON frame: {raw[:80]!r}")
            return
        cursor = frame.get("cursor")
        if kind == "hello":
            if conn.cursor is None and isinstance(cursor, str):
                conn.cursor = cursor
            conn.hello.set()
            return
        if isinstance(cursor, str) and kind != "resync_required":
            conn.cursor = cursor
        if kind != "message.created":
            if kind in ("error", "resync_required"):
                self._error(f"{kind}: {str(raw)[:200]}")
            self.other_frames[kind] = self.other_frames.get(kind, 0) + 1
            return
        try:
            content = frame["message"]["content"]
        except (KeyError, TypeError):
            self._error(f"message.created without content: {raw[:80]!r}")
            return
        parsed = parse_content(content) if isinstance(content, str) else None
        if parsed is None:
            self._error(f"wrong content: {content!r:.120}")
            return
        stream, seq, sent_ns = parsed
        seen = conn.streams.get(stream)
        if seen is None:
            seen = conn.streams[stream] = Seen()
        if seq >= len(seen.bits):
            seen.bits.extend(bytes(max(seq + 1 - len(seen.bits), 256)))
        if seen.bits[seq]:
            self.duplicates += 1
            self._error(f"duplicate {stream} #{seq}")
            return
        seen.bits[seq] = 1
        seen.count += 1
        if seq < seen.top:
            self.reordered += 1
        else:
            seen.top = seq
        self.received += 1
        self.last_ns = now
        self.samples.append((now - sent_ns) / 1e6)

    async def _open(self, conn: Conn) -> ClientConnection:
        url = conn.url
        if conn.cursor is not None and self.resume:
            url += ("&" if "?" in url else "?") + f"since={conn.cursor}"
        return await connect(
            url, max_size=MAX_FRAME, compression=None, open_timeout=60, ping_interval=None
        )

    async def run_conn(self, conn: Conn, gate: asyncio.Semaphore) -> None:
        first = True
        attempt = 0
        while not self.stopping:
            try:
                async with gate:
                    ws = await self._open(conn)
            except (OSError, TimeoutError, ConnectionClosed, Exception) as exc:
                if first and not self.resume:
                    self._error(f"connect failed: {exc!r}")
                    conn.hello.set()
                    return
                # Like a real client: a growing, jittered pause (capped at 0.5 s) between tries.
                attempt += 1
                await asyncio.sleep(min(0.5, 0.05 * 2**attempt) * (0.5 + random.random()))
                continue
            attempt = 0
            if not first:
                conn.reconnects += 1
            first = False
            conn.ws = ws
            try:
                async for raw in ws:
                    self.handle(conn, raw)
            except ConnectionClosed:
                pass
            code = ws.close_code or 0
            conn.closed_codes.append(code)
            conn.ws = None
            if not self.resume or self.stopping:
                return
            await asyncio.sleep(random.random() * 0.05)

    async def command(self, name: str, args: dict[str, Any]) -> Any:
        if name == "connect":
            self.resume = bool(args.get("resume", False))
            gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
            tags = args.get("tags") or [""] * len(args["urls"])
            new = [Conn(url, tag) for url, tag in zip(args["urls"], tags, strict=True)]
            self.conns.extend(new)
            started = time.monotonic()
            self.tasks.extend(asyncio.create_task(self.run_conn(c, gate)) for c in new)
            await asyncio.gather(*(c.hello.wait() for c in new))
            connected = sum(1 for c in new if c.ws is not None)
            return {"connected": connected, "seconds": time.monotonic() - started}
        if name == "reset":
            self.samples = array("d")
            self.received = 0
            self.last_ns = 0
            return None
        if name == "wait":
            # Until every connection has seen every seq in [0, count) of each expected stream.
            expect: dict[str, int] = args["expect"]
            deadline = time.monotonic() + args["timeout"]
            while time.monotonic() < deadline and self._missing(expect):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            return self.stats(expect, bool(args.get("samples", True)))
        if name == "close":
            self.stopping = True

            async def close(ws: ClientConnection) -> None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(10):
                        await ws.close()

            gate = asyncio.Semaphore(500)

            async def gated(ws: ClientConnection) -> None:
                async with gate:
                    await close(ws)

            await asyncio.gather(*(gated(c.ws) for c in self.conns if c.ws is not None))
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            self.conns, self.tasks = [], []
            self.stopping = False
            return None
        raise ValueError(name)

    def _missing(self, expect: dict[str, int]) -> int:
        missing = 0
        for conn in self.conns:
            for stream, count in expect.items():
                if "@" in stream and stream.rpartition("@")[2] != conn.tag:
                    continue
                seen = conn.streams.get(stream)
                # Every seq a sender used is below its count, so seen.count is what arrived.
                missing += count - (0 if seen is None else min(seen.count, count))
        return missing

    def stats(self, expect: dict[str, int], samples: bool) -> dict[str, Any]:
        return {
            "received": self.received,
            "last_ns": self.last_ns,
            "missing": self._missing(expect),
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "errors": self.errors,
            "error_text": list(self.error_text),
            "samples": self.samples.tobytes() if samples else b"",
            "connections": len(self.conns),
            "open": sum(1 for c in self.conns if c.ws is not None),
            "reconnects": sum(c.reconnects for c in self.conns),
            "other_frames": dict(self.other_frames),
        }

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            name, args = await loop.run_in_executor(None, self.pipe.recv)
            if name == "exit":
                return
            try:
                result = await self.command(name, args)
                self.pipe.send(("ok", result))
            except Exception as exc:
                self.pipe.send(("error", repr(exc)))


def _worker_main(pipe: multiprocessing.connection.Connection) -> None:
    raise_fd_limit()
    with contextlib.suppress(ImportError):
        import uvloop  # the same event loop uvicorn runs on, when installed

        uvloop.install()
    asyncio.run(Worker(pipe).serve())


# ---------------------------------------------------------------------------------------------
# In the bench process


@dataclass
class Collected:
    received: int
    missing: int
    duplicates: int
    reordered: int
    errors: int
    error_text: list[str]
    samples: list[float]
    last_ns: int
    open: int
    reconnects: int
    other_frames: dict[str, int]

    @property
    def clean(self) -> bool:
        return not (self.missing or self.duplicates or self.reordered or self.errors)

    def problems(self) -> str:
        parts = [
            f"{name} {value}"
            for name, value in (
                ("missing", self.missing),
                ("duplicate", self.duplicates),
                ("reordered", self.reordered),
                ("errors", self.errors),
            )
            if value
        ]
        if self.error_text:
            parts.append("e.g. " + "; ".join(self.error_text[:2]))
        return ", ".join(parts) or "none"


class LoadPool:
    """Several load processes, each holding a share of the connections."""

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for _ in range(processes):
            parent, child = context.Pipe()
            process = context.Process(target=_worker_main, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        self.ps = [psutil.Process(p.pid) for p in self.processes if p.pid is not None]

    async def _call_all(self, name: str, per_worker: list[dict[str, Any]]) -> list[Any]:
        for pipe, args in zip(self.pipes, per_worker, strict=True):
            pipe.send((name, args))
        results = await asyncio.gather(*(asyncio.to_thread(pipe.recv) for pipe in self.pipes))
        out = []
        for status, value in results:
            if status != "ok":
                raise RuntimeError(f"load process failed in {name}: {value}")
            out.append(value)
        return out

    async def connect(
        self, urls: list[str], *, resume: bool = False, tags: list[str] | None = None
    ) -> int:
        shares: list[list[str]] = [[] for _ in self.pipes]
        tag_shares: list[list[str]] = [[] for _ in self.pipes]
        for index, url in enumerate(urls):
            shares[index % len(shares)].append(url)
            tag_shares[index % len(shares)].append(tags[index] if tags else "")
        results = await self._call_all(
            "connect",
            [
                {"urls": share, "resume": resume, "tags": tag_share}
                for share, tag_share in zip(shares, tag_shares, strict=True)
            ],
        )
        return sum(r["connected"] for r in results)

    async def reset(self) -> None:
        await self._call_all("reset", [{} for _ in self.pipes])

    async def wait(
        self, expect: dict[str, int], within: float, *, samples: bool = True
    ) -> Collected:
        args = {"expect": expect, "timeout": within, "samples": samples}
        results = await self._call_all("wait", [args for _ in self.pipes])
        all_samples: list[float] = []
        for r in results:
            chunk = array("d")
            chunk.frombytes(r["samples"])
            all_samples.extend(chunk)
        other: dict[str, int] = {}
        for r in results:
            for kind, n in r["other_frames"].items():
                other[kind] = other.get(kind, 0) + n
        return Collected(
            received=sum(r["received"] for r in results),
            missing=sum(r["missing"] for r in results),
            duplicates=sum(r["duplicates"] for r in results),
            reordered=sum(r["reordered"] for r in results),
            errors=sum(r["errors"] for r in results),
            error_text=[t for r in results for t in r["error_text"]],
            samples=all_samples,
            last_ns=max(r["last_ns"] for r in results),
            open=sum(r["open"] for r in results),
            reconnects=sum(r["reconnects"] for r in results),
            other_frames=other,
        )

    async def close_connections(self) -> None:
        await self._call_all("close", [{} for _ in self.pipes])

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.ps:
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
        return total

    def shutdown(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(Exception):
                pipe.send(("exit", {}))
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)


class CpuMeter:
    """CPU seconds used by some processes over an interval, as a share of one core."""

    def __init__(self, processes: list[psutil.Process]) -> None:
        self.processes = processes
        self.started = 0.0
        self.cpu0: list[float] = []
        self.peak = 0.0  # set by watch()
        self.peak_single = 0.0

    def _cpu(self) -> list[float]:
        out = []
        for p in self.processes:
            try:
                times = p.cpu_times()
                out.append(times.user + times.system)
            except psutil.Error:
                out.append(0.0)
        return out

    def start(self) -> None:
        self.started = time.monotonic()
        self.cpu0 = self._cpu()

    def shares(self) -> list[float]:
        """Per process, CPU used since start() per wall second: 1.0 = one core fully busy."""
        wall = time.monotonic() - self.started
        if wall <= 0:
            return [0.0 for _ in self.processes]
        return [(b - a) / wall for a, b in zip(self.cpu0, self._cpu(), strict=True)]

    def share(self) -> float:
        return sum(self.shares())

    async def watch(self, interval: float = 0.5) -> None:
        """Until cancelled: the busiest interval's share (all processes, and the busiest one).

        The mean over a step is diluted by its idle tail (waiting for stragglers); the peak
        says whether any process was saturated while the load was on."""
        self.peak = self.peak_single = 0.0
        last, stamp = self._cpu(), time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now, when = self._cpu(), time.monotonic()
            used = [(b - a) / (when - stamp) for a, b in zip(last, now, strict=True)]
            self.peak = max(self.peak, sum(used))
            self.peak_single = max(self.peak_single, max(used, default=0.0))
            last, stamp = now, when
