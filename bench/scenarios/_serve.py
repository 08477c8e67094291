"""`parlour serve` with its group-commit writer instrumented (`python -m bench.scenarios._serve`).

Nothing in src/ changes: this wraps `Writer._commit` before the CLI starts, and records for every
batch its wall-clock end, its size (jobs, and sends: a coalesced job carrying N sends counts N),
its SQL statements and how long the transaction took. With `PARLOUR_BENCH_PROFILE=path`, the event
loop's thread runs under cProfile and its stats are dumped there on SIGTERM (for finding where a
send's CPU goes; it slows the server down, so never for the reported figures).
With `PARLOUR_BENCH_WRITER_STATS=path` set, each record is appended there as a JSON line as soon as
its batch ends (no fsync; uvicorn re-raises SIGTERM after shutdown, so `atexit` would not run).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Engine

from parlour.storage.writer import Writer

_out: list[Any] = []
_state: dict[str, Any] = {"task": None, "statements": 0, "takes": 0, "taken": 0}


def _count_statement(*_args: Any, **_kwargs: Any) -> None:
    # Only the writer task's statements: readers interleave with it at every await.
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return
    if task is not None and task is _state["task"]:
        _state["statements"] += 1


def install() -> None:
    event.listen(Engine, "before_cursor_execute", _count_statement)
    original = Writer._commit

    async def commit(self: Writer, batch: list[Any]) -> None:
        _state["task"] = asyncio.current_task()
        _state["statements"] = _state["takes"] = _state["taken"] = 0
        started = time.perf_counter()
        try:
            await original(self, batch)
        finally:
            _state["task"] = None
            # Sends folded into one job by a coalescer count one each: (end, jobs, sends, ...).
            sends = len(batch) - _state["takes"] + _state["taken"]
            seconds = time.perf_counter() - started
            record = (time.time(), len(batch), sends, _state["statements"], seconds)
            if _out:
                _out[0].write(orjson.dumps(record) + b"\n")
                _out[0].flush()

    Writer._commit = commit  # type: ignore[method-assign]
    _install_coalescer()
    path = os.environ.get("PARLOUR_BENCH_WRITER_STATS")
    if path:
        _out.append(open(path, "ab"))  # noqa: SIM115 - open for the life of the process


def _install_coalescer() -> None:
    """Count the requests each coalesced job carries, where sends are coalesced."""
    try:
        from parlour.storage.coalesce import Coalescer
    except ImportError:
        return
    original = getattr(Coalescer, "_take", None)
    if original is None:
        return

    def take(self: Any) -> Any:
        taken = original(self)
        _state["takes"] += 1
        _state["taken"] += len(taken)
        return taken

    Coalescer._take = take  # type: ignore[method-assign]


def _install_profiler(path: str) -> None:
    import cProfile
    import signal
    import sys

    profiler = cProfile.Profile()

    def stop(*_args: Any) -> None:
        profiler.disable()
        profiler.dump_stats(path)
        sys.exit(0)

    # uvicorn takes SIGTERM over while it serves, then restores this handler and re-raises.
    signal.signal(signal.SIGTERM, stop)
    profiler.enable()


if __name__ == "__main__":
    install()
    if os.environ.get("PARLOUR_BENCH_PROFILE"):
        _install_profiler(os.environ["PARLOUR_BENCH_PROFILE"])
    from parlour.cli import app

    app(prog_name="parlour")
