"""`parlour`: serve, migrate, create organizations and users, load the demo."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from parlour.config import Settings
from parlour.errors import ParlourError

app = typer.Typer(help="Parlour, a self-hosted team chat server.", no_args_is_help=True)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
console = Console()
T = TypeVar("T")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded database and files live.")
]


def _settings(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    return settings


def _run(settings: Settings, action: Callable[..., Awaitable[T]]) -> T:
    """Run one action against started services (migrations applied), then shut down."""
    from parlour.runtime import start_runtime, stop_runtime

    async def main() -> T:
        runtime = await start_runtime(settings)
        try:
            return await action(runtime.services)
        finally:
            await stop_runtime(runtime)

    try:
        return asyncio.run(main())
    except ParlourError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDir = None,
    demo: Annotated[
        bool, typer.Option(help="Load the demo organization if it is missing.")
    ] = False,
) -> None:
    """Run the server (migrates the database first)."""
    import uvicorn

    from parlour.app import create_app
    from parlour.server import server_options

    settings = _settings(data_dir)
    if demo:
        from parlour.demo import load_demo

        logins = _run(settings, load_demo)
        _print_logins(logins)
    where = (
        settings.database_url.split("@")[-1]
        if settings.database_url
        else str((settings.data_dir / "parlour.db").resolve())
    )
    console.print(f"Parlour on [bold]http://{host}:{port}[/bold]  (database: {where})")
    console.print("Log in with a user made by `parlour user create` or `parlour demo`.")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        ws_max_size=1024 * 1024,
        ws_per_message_deflate=settings.ws_compression,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        lifespan="on",
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default: then any local client
        # (or a proxy that passes the header through) picks the address logins are throttled by.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies,
        # Timeouts for slow or idle clients and a cap on open connections (parlour.server).
        **server_options(settings),
    )


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema."""

    async def nothing(services: object) -> None:
        return None

    _run(_settings(data_dir), nothing)
    console.print("Database is up to date.")


@org_app.command("create")
def org_create(name: str, data_dir: DataDir = None) -> None:
    """Create an organization; prints its id."""
    from parlour.actions.users import do_create_org

    org_id = _run(_settings(data_dir), lambda services: do_create_org(services, name))
    print(org_id)


@user_app.command("create")
def user_create(
    org: Annotated[str, typer.Option("--org", help="Organization name.")],
    email: Annotated[str, typer.Option("--email")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    password: Annotated[str, typer.Option("--password", prompt=True, hide_input=True)],
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user; prints its id."""
    from parlour.actions.users import do_create_user, org_id_by_name
    from parlour.services import Services

    async def create(services: Services) -> str:
        org_id = await org_id_by_name(services, org)
        user = await do_create_user(
            services, org_id, email=email, full_name=name, password=password, is_admin=admin
        )
        return user.id

    print(_run(_settings(data_dir), create))


@app.command()
def demo(data_dir: DataDir = None) -> None:
    """Fill an organization "Demo" with users, rooms and messages; prints the logins."""
    from parlour.demo import load_demo

    _print_logins(_run(_settings(data_dir), load_demo))


def _print_logins(logins: list[tuple[str, str, str]]) -> None:
    from rich.table import Table

    table = Table(title="Demo logins (organization Demo)")
    for column in ("Name", "Email", "Password"):
        table.add_column(column)
    for row in logins:
        table.add_row(*row)
    console.print(table)
