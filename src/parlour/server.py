"""How `parlour serve` runs uvicorn: timeouts for slow clients and a cap on open connections.

uvicorn only times out idle keep-alive connections *between* requests (`timeout_keep_alive`). A
connection that never sends a byte, sends half a request line, or trickles its body is held
forever, and enough of them exhaust the process's file descriptors. And `limit_concurrency`
answers 503 only once a request's headers are complete, by which time the descriptor is long
taken, and it also refuses the next request of a connection already open. So the HTTP protocol
is a small subclass of uvicorn's (httptools) one that adds:

- a header deadline: complete request headers within `header_timeout_seconds` of the connection
  opening (or of the request's first byte on a kept-alive connection), else 408 and close;
- a body deadline: a body must make progress every `body_timeout_seconds` and, after that
  long, average `body_min_bytes_per_second` (like Apache's mod_reqtimeout), else close;
- a connection cap: past `limit_concurrency` open connections a new one is answered 503 at once
  and closed, while the connections already open keep being served.

`--workers N` runs N such servers on one listening socket under uvicorn's own supervisor, which
restarts a worker that dies and stops them all on SIGINT/SIGTERM (`serve_workers`). Every response
names the process that made it in the `X-Parlour-Process` header (its pid).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import resource
import signal
import sys
from typing import Any, cast

import orjson
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from parlour.config import Settings

log = logging.getLogger(__name__)

# Descriptors kept back from the connection cap: the database pool, Redis, the listening socket,
# log and attachment files, and the refusals in flight.
DESCRIPTOR_RESERVE = 256
# A refused connection is answered, half-closed, and its request drained for at most this long
# (closing with unread input would reset the connection and lose the 503). Past
# REFUSALS_LINGERING of them at once, a refusal closes at once.
REFUSAL_LINGER_SECONDS = 1.0
REFUSALS_LINGERING = 128


def _error_response(status: int, reason: str, code: str, message: str, retry: bool) -> bytes:
    body = orjson.dumps({"error": {"code": code, "message": message, "details": {}}})
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry:
        head.append("retry-after: 1")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


BUSY = _error_response(
    503, "Service Unavailable", "unavailable", "The server is at its connection limit.", True
)
HEADER_TIMEOUT = _error_response(
    408, "Request Timeout", "request_timeout", "The request headers took too long.", False
)


class _Refusal(asyncio.Protocol):
    """A connection over the cap: answered 503, drained briefly, closed. Never served."""

    lingering = 0

    def __init__(self) -> None:
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's does not subclass asyncio.Transport, so no isinstance).
        stream = cast(asyncio.Transport, transport)
        stream.write(BUSY)
        if _Refusal.lingering >= REFUSALS_LINGERING or not stream.can_write_eof():
            stream.close()
            return
        _Refusal.lingering += 1
        stream.write_eof()
        self._timer = asyncio.get_running_loop().call_later(REFUSAL_LINGER_SECONDS, stream.close)

    def data_received(self, data: bytes) -> None:
        pass  # the request is not read, only drained

    def eof_received(self) -> bool:
        return False  # the client is done too: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            _Refusal.lingering -= 1


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with header and body deadlines and a connection cap."""

    header_timeout = 10.0
    body_timeout = 30.0
    body_min_rate = 500.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cap = self.limit_concurrency
        # The cap is enforced when a connection opens; uvicorn's own check (at headers complete,
        # counting this connection) would refuse a request on a connection already admitted.
        # It is kept one above, so it still bounds request tasks that outlive their connection.
        if self._cap is not None:
            self.limit_concurrency = self._cap + 1
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._partial = False
        self._body_start = 0.0
        self._body_progress = 0.0
        self._body_bytes = 0
        self._upgraded = False

    # Connection

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        if self._cap is not None and len(self.connections) >= self._cap:
            refusal = _Refusal()
            transport.set_protocol(refusal)
            refusal.connection_made(transport)
            return
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Bytes that start no request (stray blank lines between requests) still re-arm the
        # header deadline: otherwise they would keep a connection open with no timer at all.
        if (
            not self._upgraded
            and self._header_timer is None
            and self._body_timer is None
            and self.timeout_keep_alive_task is None
            and (self.cycle is None or self.cycle.response_complete)
            and not self.transport.is_closing()
        ):
            self._arm_header_timer()

    def handle_websocket_upgrade(self) -> None:
        self._upgraded = True
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().handle_websocket_upgrade()

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._partial = True
        if self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._partial = False
        super().on_headers_complete()
        if self._upgraded or (self.parser.should_upgrade() and self._should_upgrade()):
            return
        now = self.loop.time()
        self._body_start = self._body_progress = now
        self._body_bytes = 0
        self._body_timer = self.loop.call_later(self.body_timeout, self._body_deadline)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._body_bytes += len(body)
        self._body_progress = self.loop.time()

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    # Deadlines

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _header_deadline(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        # Say why to a client mid-request, unless a pipelined response is still being written.
        if self._partial and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(HEADER_TIMEOUT)
        self.transport.close()

    def _body_deadline(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self.flow.read_paused:
            # We stopped reading (the app has not consumed what came): not the client's delay.
            self._body_progress = now
        deadline = min(
            self._body_progress + self.body_timeout,
            self._body_start + self.body_timeout + self._body_bytes / self.body_min_rate,
        )
        if now < deadline:
            self._body_timer = self.loop.call_later(deadline - now, self._body_deadline)
            return
        # The app, still waiting for the body, sees the client disconnect.
        self.transport.close()


def http_protocol(settings: Settings) -> type[GuardedHttpProtocol]:
    """The protocol class for uvicorn's `http=`, carrying this server's deadlines."""

    class Protocol(GuardedHttpProtocol):
        header_timeout = settings.header_timeout_seconds
        body_timeout = settings.body_timeout_seconds
        body_min_rate = float(max(1, settings.body_min_bytes_per_second))

    return Protocol


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


def connection_cap(settings: Settings, descriptors: int) -> int:
    """`max_connections`, lowered so that connections never take the last descriptors."""
    cap = min(settings.max_connections, descriptors - DESCRIPTOR_RESERVE)
    if cap < settings.max_connections:
        log.info("connection cap lowered to %d to fit the descriptor limit (%d)", cap, descriptors)
    return max(1, cap)


def server_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn options that bound slow and idle clients and the number of connections."""
    return {
        "http": http_protocol(settings),
        "limit_concurrency": connection_cap(settings, raise_descriptor_limit()),
        "timeout_keep_alive": settings.keepalive_timeout_seconds,
    }


PROCESS_HEADER = "X-Parlour-Process"


def default_workers() -> int:
    """The cores this process may run on (`os.process_cpu_count()` from Python 3.13)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Every uvicorn option `parlour serve` passes, for one process or each worker alike."""
    return {
        "log_level": "warning",
        "ws_max_size": 1024 * 1024,
        "ws_per_message_deflate": settings.ws_compression,
        "ws_ping_interval": 20,
        "ws_ping_timeout": 20,
        "lifespan": "on",
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default: then any local client
        # (or a proxy that passes the header through) picks the address logins are throttled by.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies,
        # Which process answered: operators (and tests) tell workers apart by it. uvicorn adds
        # these headers to every response and WebSocket handshake at no cost per request.
        "headers": [(PROCESS_HEADER, str(os.getpid()))],
        # Timeouts for slow or idle clients and a cap on open connections (per process).
        **server_options(settings),
    }


def _worker_app(settings: Settings) -> Any:
    from parlour.app import create_app

    # The supervisor's parent migrated the database (and loaded the demo) before starting us.
    return create_app(settings, migrate=False)


class WorkerConfig(uvicorn.Config):
    """uvicorn's Config for `--workers N`.

    The supervisor pickles its Config into every worker it spawns; the protocol class, the app
    and the process header are made per process, so the config crosses as its arguments and is
    rebuilt in the worker (`__reduce__`).
    """

    def __init__(
        self, settings: Settings, host: str, port: int, workers: int, parent: int = 0
    ) -> None:
        self.settings = settings
        self._arguments = (settings, host, port, workers)
        if parent:
            _die_with(parent)
        super().__init__(
            functools.partial(_worker_app, settings),
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **uvicorn_options(settings),
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (WorkerConfig, (*self._arguments, os.getpid()))


def _die_with(parent: int) -> None:
    """A worker ends when its supervisor does, even one killed without a chance to stop it:
    otherwise orphaned workers would keep the port and serve on (Linux only; elsewhere, no-op)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the supervisor died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """Serve with `workers` processes on one socket until SIGINT/SIGTERM; returns the exit code.

    The caller has migrated the database: workers open their services with migrate=False.
    """
    config = WorkerConfig(settings, host, port, workers)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    # The supervisor stops when a worker fails before serving (it would fail again): say so.
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return STARTUP_FAILURE if failed else 0
