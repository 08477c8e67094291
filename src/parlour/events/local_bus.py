"""The machine bus: the processes of one machine (`parlour serve --workers N`) without Redis.

Each process binds a Unix datagram socket in one directory (`<data_dir>/bus/`) and sends every
message to every other socket there. Nothing is stored or acknowledged, as with Redis pub/sub:
a lost "stream advanced" only delays delivery to the hub's next poll, and typing and presence are
ephemeral by design (presence heartbeats repair a lost arrival within a few seconds).

The loop never blocks: sends are non-blocking, and a peer whose queue is full (Linux queues only
`net.unix.max_dgram_qlen` datagrams, 10 by default) keeps what it was owed for a retry a few
milliseconds later. Messages queued in one loop turn travel together, one datagram per peer, and
"stream advanced" positions fold into the highest. Peers are learned by listing the directory (at
start, then every few seconds) and from whoever writes to us; a socket file nobody listens on any
more (a killed process) refuses the send and is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from parlour.events.bus import BusListener

log = logging.getLogger(__name__)

# Kept below the default socket buffers, so a datagram always fits in one.
MAX_DATAGRAM = 60_000
RELIST_SECONDS = 2.0
RETRY_SECONDS = 0.005
# Signals owed to one peer whose queue stays full; past this the oldest are dropped.
MAX_OWED = 1_000
SUFFIX = ".sock"


@dataclass
class _Peer:
    path: str
    # What could not be sent yet: the highest stream position, and encoded signals in order.
    position: int = 0
    signals: list[bytes] = field(default_factory=list)


class LocalBus:
    """A `Bus` shared by the processes whose buses use the same directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.healthy = True
        self.path = ""
        self._listener: BusListener | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._peers: dict[str, _Peer] = {}
        self._outbox: list[dict[str, Any]] = []
        self._flush_scheduled = False
        self._retry: asyncio.TimerHandle | None = None
        self._relist: asyncio.TimerHandle | None = None

    # -- Bus ------------------------------------------------------------------------------

    def set_listener(self, listener: BusListener) -> None:
        self._listener = listener

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(str(path))
        except OSError as error:
            # E.g. a path longer than a Unix socket address allows: this process still works,
            # its peers only learn of its writes at their next poll.
            sock.close()
            self.healthy = False
            log.warning("machine bus unavailable (%s): other processes wake by polling", error)
            return
        self._sock = sock
        self.path = str(path)
        self._loop.add_reader(sock.fileno(), self._receive)
        self._list_peers()
        # Introduce ourselves, so peers send to us before their next listing.
        self._queue({"kind": "hello"})

    async def stop(self) -> None:
        for handle in (self._retry, self._relist):
            if handle is not None:
                handle.cancel()
        self._retry = self._relist = None
        if self._sock is not None:
            self._flush()  # a departing process's last "gone" signals
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def stream_advanced(self, position: int) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().call_soon(self._listener.on_stream_advanced, position)
        self._queue({"kind": "stream", "position": position})

    def signal(self, signal: dict[str, Any]) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().call_soon(self._listener.on_signal, signal)
        self._queue(signal)

    async def ping(self) -> bool:
        return self._sock is not None

    def peers(self) -> list[str]:
        """The socket paths this bus sends to (for tests and diagnostics)."""
        return sorted(self._peers)

    # -- sending --------------------------------------------------------------------------

    def _queue(self, message: dict[str, Any]) -> None:
        if self._sock is None:
            return
        self._outbox.append(message)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        messages, self._outbox = self._outbox, []
        if self._sock is None:
            return
        position = max((m["position"] for m in messages if m.get("kind") == "stream"), default=0)
        signals = [part for m in messages if m.get("kind") != "stream" for part in _encoded(m)]
        for peer in list(self._peers.values()):
            peer.position = max(peer.position, position)
            peer.signals.extend(signals)
            del peer.signals[:-MAX_OWED]
            self._send_owed(peer)
        self._arm_retry()

    def _send_owed(self, peer: _Peer) -> None:
        """Send what `peer` is owed; keep what its full queue refused."""
        assert self._sock is not None
        owed = list(peer.signals)
        if peer.position:
            # Last, so that "all sent" includes it.
            owed.append(orjson.dumps({"kind": "stream", "position": peer.position}))
        sent = 0
        for datagram, count in _datagrams(owed):
            try:
                self._sock.sendto(datagram, peer.path)
            except BlockingIOError:
                break  # its queue is full: the rest waits for the retry
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody listens there any more (the process died or stopped): forget it.
                self._forget(peer.path, unlink=True)
                return
            except OSError as error:
                log.debug("machine bus send to %s dropped: %s", peer.path, error)
            sent += count
        del peer.signals[:sent]
        if sent == len(owed):
            peer.position = 0

    def _arm_retry(self) -> None:
        owed = any(peer.position or peer.signals for peer in self._peers.values())
        if owed and self._retry is None and self._loop is not None:
            self._retry = self._loop.call_later(RETRY_SECONDS, self._retry_owed)

    def _retry_owed(self) -> None:
        self._retry = None
        if self._sock is None:
            return
        for peer in list(self._peers.values()):
            if peer.position or peer.signals:
                self._send_owed(peer)
        self._arm_retry()

    # -- peers ----------------------------------------------------------------------------

    def _list_peers(self) -> None:
        self._relist = None
        if self._sock is None or self._loop is None:
            return
        try:
            found = {
                str(self.directory / name)
                for name in os.listdir(self.directory)
                if name.endswith(SUFFIX)
            }
        except OSError:
            found = set(self._peers)
        found.discard(self.path)
        for path in found - set(self._peers):
            self._peers[path] = _Peer(path)
        for path in set(self._peers) - found:
            self._forget(path, unlink=False)
        self._relist = self._loop.call_later(RELIST_SECONDS, self._list_peers)

    def _forget(self, path: str, *, unlink: bool) -> None:
        self._peers.pop(path, None)
        if unlink:
            with contextlib.suppress(OSError):
                os.unlink(path)

    # -- receiving ------------------------------------------------------------------------

    def _receive(self) -> None:
        while self._sock is not None:
            try:
                data, sender = self._sock.recvfrom(MAX_DATAGRAM + 1024)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                log.debug("machine bus receive failed: %s", error)
                return
            # Whoever writes to us is a peer (a new process says hello at start).
            known = sender in self._peers or sender == self.path
            if isinstance(sender, str) and sender and not known:
                self._peers[sender] = _Peer(sender)
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        try:
            messages = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if self._listener is None or not isinstance(messages, list):
            return
        for message in messages:
            kind = message.get("kind") if isinstance(message, dict) else None
            if kind == "stream":
                self._listener.on_stream_advanced(int(message["position"]))
            elif kind is not None and kind != "hello":
                self._listener.on_signal(message)


def _datagrams(parts: list[bytes]) -> Iterator[tuple[bytes, int]]:
    """Encoded messages packed into datagrams of at most MAX_DATAGRAM bytes: (datagram, count)."""
    batch: list[bytes] = []
    size = 2
    for part in parts:
        if batch and size + len(part) + 1 > MAX_DATAGRAM:
            yield b"[" + b",".join(batch) + b"]", len(batch)
            batch, size = [], 2
        batch.append(part)
        size += len(part) + 1
    if batch:
        yield b"[" + b",".join(batch) + b"]", len(batch)


def _encoded(message: dict[str, Any]) -> Iterator[bytes]:
    """One message encoded; a heartbeat listing too many users for one datagram is split."""
    encoded = orjson.dumps(message)
    users = message.get("users")
    if len(encoded) <= MAX_DATAGRAM - 2:
        yield encoded
    elif isinstance(users, list) and len(users) > 1:
        half = len(users) // 2
        yield from _encoded({**message, "users": users[:half]})
        yield from _encoded({**message, "users": users[half:]})
    else:
        log.warning("machine bus message of %d bytes dropped", len(encoded))
