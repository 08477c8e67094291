"""PostgreSQL restarts under load: the server stays up, answers 503, and loses nothing.

This always runs against PostgreSQL, whatever the pass: it makes its own throwaway PostgreSQL
cluster (pg_createcluster, on a free port, trust auth on localhost) so that stopping and starting
PostgreSQL for real never disturbs anyone else using the machine's main cluster, and drops it
afterwards. While a fleet of clients sends (socket and REST), PostgreSQL is stopped (fast
shutdown: every connection is terminated mid-flight) and started again, several times. Asserted:
- during the outage sends fail only with a clear retryable error: HTTP 503 `unavailable` with
  `Retry-After`, or a socket error frame with `retryable: true` (never a 500);
- `/healthz` says 503 while PostgreSQL is down and 200 once it is back;
- the clients recover on their own (more acknowledgements after each restart);
- the `parlour serve` process is the same one throughout (same pid, never restarted);
- afterwards every acknowledged message is stored exactly once and every client's event log
  matches the history (Fleet.verify).
PARLOUR_FAULT_PG_RESTARTS sets the number of restarts (default 2).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.load import Fleet, report, seed_from_env
from tests.faults.test_crash import LOAD_ENV, USERS
from tests.support import OrgFactory, free_port, start_server


def pg_version() -> str:
    versions = sorted(Path("/etc/postgresql").iterdir(), key=lambda p: int(p.name))
    return versions[-1].name


def psql_args(port: int) -> list[str]:
    return ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]


def pg_ctl(version: str, cluster: str, *args: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[tuple[str, str, int]]:
    """A private PostgreSQL cluster with one database; (version, cluster name, port)."""
    assert shutil.which("pg_createcluster"), "postgresql-common (pg_createcluster) is required"
    version = pg_version()
    name = f"parlour_faults_{os.getpid()}"
    port = free_port()
    subprocess.run(
        [
            "pg_createcluster",
            version,
            name,
            "--port",
            str(port),
            "--",
            "--auth-host=trust",
            "--auth-local=trust",
        ],
        check=True,
        capture_output=True,
    )
    try:
        pg_ctl(version, name, "start")
        subprocess.run(
            [*psql_args(port), "-qc", "CREATE DATABASE parlour_faults"],
            check=True,
            capture_output=True,
        )
        yield version, name, port
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", version, name], check=False, capture_output=True
        )


def error_lines(log: Path) -> str:
    """The server log's error lines and exception names, for a failure message."""
    lines = log.read_text(errors="replace").splitlines()
    keep = [line for line in lines if "Error" in line or "error" in line or "Exception" in line]
    return "\n".join(keep[-30:])


async def test_postgres_restart_mid_load(pg_cluster: tuple[str, str, int]) -> None:
    version, cluster, port = pg_cluster
    restarts = int(os.environ.get("PARLOUR_FAULT_PG_RESTARTS", "2"))
    seed = seed_from_env()
    print(f"postgres restart: seed {seed}, {restarts} restarts")
    rng = random.Random(seed)
    started = time.monotonic()
    url = f"postgresql://postgres@127.0.0.1:{port}/parlour_faults"
    with start_server({**LOAD_ENV, "PARLOUR_DATABASE_URL": url}) as server:
        assert server.process is not None
        pid = server.process.pid
        factory = OrgFactory(server)
        await factory.start()
        fleet = Fleet(rng=rng, org=await factory.create(USERS))
        outage_seconds: list[float] = []
        try:
            await fleet.setup()
            fleet.start()
            await fleet.wait_acked(30, timeout=30)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                for restart in range(restarts):
                    await fleet.wait_acked(fleet.acked + rng.randint(10, 60), timeout=60)
                    down = time.monotonic()
                    await asyncio.to_thread(pg_ctl, version, cluster, "stop", "-m", "fast")
                    # The outage must show as clear, retryable errors to the senders...
                    await fleet.wait_failure(timeout=30)
                    health = await http.get("/healthz")
                    assert health.status_code == 503, health.text
                    assert health.json()["error"]["code"] in ("database_unavailable", "unavailable")
                    await asyncio.to_thread(pg_ctl, version, cluster, "start")
                    # ...and the clients carry on by themselves once PostgreSQL is back.
                    await fleet.wait_acked(fleet.acked + 20, timeout=60)
                    outage_seconds.append(round(time.monotonic() - down, 2))
                    assert server.process is not None
                    assert server.process.pid == pid
                    assert server.process.poll() is None, "the server process died"
                    assert (await http.get("/healthz")).status_code == 200
                    print(f"restart {restart + 1}/{restarts}: {fleet.failed} failed sends so far")
            await fleet.stop()
            figures = await fleet.verify()
        except BaseException:
            print(f"postgres restart failed: seed {seed}")
            raise
        finally:
            await fleet.close()
            await factory.stop()
        assert server.process is not None
        assert server.process.pid == pid
        assert server.process.poll() is None, "the server process died"
        log_tail = error_lines(server.data_dir / "server.log")
    failures = fleet.failures()
    bad = [
        f
        for f in failures
        if not (
            (f.via == "rest" and f.status == 503 and f.code == "unavailable" and f.retry_after)
            or (f.via == "ws" and f.code == "unavailable" and f.retryable)
        )
    ]
    assert not bad, f"sends failed with unclear or non-retryable errors: {bad[:10]}\n{log_tail}"
    assert failures, "no send ever failed: the outage was not exercised"
    figures.update(
        {
            "seed": seed,
            "database": "postgresql",
            "pg_restarts": restarts,
            "outages": restarts,
            "outage_seconds": outage_seconds,
            "server_pid_unchanged": True,
            "rest_503": sum(1 for f in failures if f.via == "rest"),
            "ws_retryable_errors": sum(1 for f in failures if f.via == "ws"),
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    print(figures)
    report("postgres_restart", figures)
