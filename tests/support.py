"""Test support: run the server as a real process, and make organizations through the actions."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from parlour.actions.users import do_create_org, do_create_user
from parlour.client import ParlourClient
from parlour.config import Settings
from parlour.ids import new_id
from parlour.services import Services, close_services, open_services

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    # `serve --workers`: one process unless a test asks for more (the default is every core).
    workers: int = 1
    # The module run as `python -m MODULE serve ...`: a test may run a wrapped server.
    module: ClassVar[str] = "parlour"

    def settings(self) -> Settings:
        settings = Settings(
            data_dir=self.data_dir, database_url=self.env.get("PARLOUR_DATABASE_URL", "")
        )
        return settings

    def start(self) -> None:
        with (self.data_dir / "server.log").open("ab") as log:
            self._spawn(log)
        assert self.process is not None
        # Workers are spawned after the parent migrated: on a loaded machine that takes longer.
        wait_healthy(self.base_url, self.process, timeout=30 if self.workers == 1 else 90)

    def _spawn(self, log: IO[bytes]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                self.module,
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=20)
        self.process = None


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Poll /healthz until it answers: start-up has no event to wait on from outside."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


@contextlib.contextmanager
def start_server(
    extra_env: dict[str, str] | None = None, *, workers: int = 1, port: int | None = None
) -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="parlour-test-") as tmp:
        port = port or free_port()
        env = dict(os.environ)
        env.update(
            {
                "PARLOUR_PRESENCE_GRACE_SECONDS": "0.5",
                "PARLOUR_STREAM_POLL_SECONDS": "0.5",
                # Tests log in many times from one address.
                "PARLOUR_LIMIT_LOGIN_FAILURES_PER_IP": "1000",
                # Outgoing webhooks go where an admin points them (the fuzz admin too): tests may
                # reach loopback only, so deliveries anywhere else are refused before connecting.
                "PARLOUR_WEBHOOK_NETWORKS": "127.0.0.0/8,::1/128",
                # A message with a link would have the server fetch it: tests reach loopback only
                # (tests/previews turns previews on, for its own page server).
                "PARLOUR_LINK_PREVIEWS": "false",
            }
        )
        if os.environ.get("PARLOUR_TEST_DATABASE_URL"):
            env["PARLOUR_DATABASE_URL"] = os.environ["PARLOUR_TEST_DATABASE_URL"]
        env.update(extra_env or {})
        server = ServerProcess(
            f"http://127.0.0.1:{port}", Path(tmp), env, port=port, workers=workers
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def start_beside(first: ServerProcess) -> Iterator[ServerProcess]:
    """A second server process on the same data dir, database and settings as `first`."""
    port = free_port()
    second = ServerProcess(f"http://127.0.0.1:{port}", first.data_dir, dict(first.env), port=port)
    second.start()
    try:
        yield second
    finally:
        second.stop()


@dataclass
class Member:
    user_id: str
    email: str
    full_name: str
    client: ParlourClient


@dataclass
class Org:
    org_id: str
    name: str
    members: list[Member] = field(default_factory=list)

    def __getitem__(self, index: int) -> Member:
        return self.members[index]


class OrgFactory:
    """Creates organizations and users through the same actions the CLI uses."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.services: Services | None = None
        self._clients: list[ParlourClient] = []

    async def start(self) -> None:
        # The server process migrated the database already.
        self.services = await open_services(self.server.settings(), migrate=False)

    async def stop(self) -> None:
        for client in self._clients:
            await client.aclose()
        if self.services is not None:
            await close_services(self.services)

    async def create(self, names: Sequence[str], *, login: bool = True) -> Org:
        assert self.services is not None
        name = f"Org {new_id()}"
        org = Org(await do_create_org(self.services, name), name)
        for index, full_name in enumerate(names):
            await self.add_user(org, full_name, is_admin=index == 0, login=login)
        return org

    async def add_user(
        self, org: Org, full_name: str, *, is_admin: bool = False, login: bool = True
    ) -> Member:
        assert self.services is not None
        email = f"{full_name.split()[0].lower()}.{new_id().lower()}@example.test"
        user = await do_create_user(
            self.services,
            org.org_id,
            email=email,
            full_name=full_name,
            password=PASSWORD,
            is_admin=is_admin,
        )
        client = ParlourClient(self.server.base_url)
        self._clients.append(client)
        if login:
            await client.login(email, PASSWORD)
        member = Member(user.id, email, full_name, client)
        org.members.append(member)
        return member


@contextlib.asynccontextmanager
async def org_factory(server: ServerProcess) -> AsyncIterator[OrgFactory]:
    """An OrgFactory on `server`, started, and stopped afterwards."""
    factory = OrgFactory(server)
    await factory.start()
    try:
        yield factory
    finally:
        await factory.stop()


@contextlib.asynccontextmanager
async def fresh_database(prefix: str = "scratch") -> AsyncIterator[str]:
    """A `PARLOUR_DATABASE_URL` for an empty database of its own: a new PostgreSQL database on
    the server PARLOUR_TEST_DATABASE_URL names (dropped afterwards), or "" (SQLite in the data
    dir, which is new for every server anyway)."""
    base = os.environ.get("PARLOUR_TEST_DATABASE_URL", "")
    if not base:
        yield ""
        return
    name = f"parlour_{prefix}_{secrets.token_hex(6)}"
    admin = create_async_engine(
        "postgresql+asyncpg://" + base.split("://", 1)[1], isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f"CREATE DATABASE {name}")
        try:
            yield base.rsplit("/", 1)[0] + "/" + name
        finally:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.dispose()
