"""The bus: tells every process that the stream moved, and carries ephemeral signals.

The bus never carries the truth. Durable events are read from the database by each process's hub;
the bus only says "the stream advanced to N" so hubs read at once instead of at their next poll.
Losing a bus message therefore delays delivery by at most one poll interval and loses nothing.
Ephemeral signals (typing, presence heartbeats) may be lost, by design.

Three buses: Redis (`redis_bus`, processes on any machines), the machine bus (`local_bus`, the
processes of one machine without Redis: `serve --workers N`) and `InProcessBus` (one process).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class BusListener(Protocol):
    def on_stream_advanced(self, position: int) -> None: ...

    def on_signal(self, signal: dict[str, Any]) -> None: ...


class Bus(Protocol):
    healthy: bool

    def set_listener(self, listener: BusListener) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def stream_advanced(self, position: int) -> None:
        """Called after a commit that wrote events up to `position`."""

    def signal(self, signal: dict[str, Any]) -> None:
        """Send an ephemeral signal to every process, this one included."""

    async def ping(self) -> bool: ...


class InProcessBus:
    """One process: deliver to our own hub, on the next loop turn (never inside the writer)."""

    healthy = True

    def __init__(self) -> None:
        self._listener: BusListener | None = None

    def set_listener(self, listener: BusListener) -> None:
        self._listener = listener

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def stream_advanced(self, position: int) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().call_soon(self._listener.on_stream_advanced, position)

    def signal(self, signal: dict[str, Any]) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().call_soon(self._listener.on_signal, signal)

    async def ping(self) -> bool:
        return True
