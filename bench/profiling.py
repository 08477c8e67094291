"""Optional py-spy profiles of the server under test (`bench.run --profile`).

py-spy is not a project dependency: it is fetched into uv's cache on first use
(`uv run --with py-spy`). A profile is written as collapsed stacks to build/bench/profile-*.txt,
with a short summary of where the samples were (inclusive, by function) next to it.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from bench.common import ROOT, BenchContext

OUT = ROOT / "build" / "bench"


@cache
def _py_spy() -> str | None:
    try:
        found = subprocess.run(
            [
                "uv",
                "run",
                "--frozen",
                "--with",
                "py-spy",
                "python",
                "-c",
                "import shutil; print(shutil.which('py-spy') or '')",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return found or None


@contextlib.contextmanager
def profiled(ctx: BenchContext, pid: int, name: str) -> Iterator[None]:
    binary = _py_spy() if ctx.profile else None
    if binary is None:
        yield
        return
    OUT.mkdir(parents=True, exist_ok=True)
    raw = OUT / f"profile-{name}.txt"
    # --subprocesses: `parlour serve` runs a worker process per core.
    command = [binary, "record", "-p", str(pid), "--subprocesses", "-r", "200", "--format", "raw"]
    process = subprocess.Popen(
        [*command, "-o", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if raw.exists():
        summary = summarise(raw)
        (OUT / f"profile-{name}.summary.txt").write_text(summary)
        ctx.notes.append(f"Profile of the server: build/bench/profile-{name}.summary.txt")


def summarise(raw: Path, top: int = 40) -> str:
    """Share of samples in which each function is on the stack (inclusive), and at the top."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += count
        leaf[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in leaf.most_common(top)]
    return "\n".join(lines) + "\n"
