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
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes serving the port together (default: this machine's cores).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the server (migrates the database first)."""
    import uvicorn

    from parlour.app import create_app
    from parlour.server import default_workers, serve_workers, uvicorn_options

    settings = _settings(data_dir)
    workers = workers or default_workers()
    if demo:
        from parlour.demo import load_demo

        logins = _run(settings, load_demo)
        _print_logins(logins)
    elif workers > 1:
        # Once, here: the workers start on a migrated database and never race to migrate it.
        _migrate_only(settings)
    where = (
        settings.database_url.split("@")[-1]
        if settings.database_url
        else str((settings.data_dir / "parlour.db").resolve())
    )
    processes = f"{workers} workers" if workers > 1 else "1 process"
    console.print(f"Parlour on [bold]http://{host}:{port}[/bold]  (database: {where}; {processes})")
    console.print("Log in with a user made by `parlour user create` or `parlour demo`.")
    if workers > 1:
        code = serve_workers(settings, host, port, workers)
        if code:
            raise typer.Exit(code)
        return
    uvicorn.run(create_app(settings), host=host, port=port, **uvicorn_options(settings))


async def _nothing(services: object) -> None:
    return None


def _migrate_only(settings: Settings) -> None:
    """Migrate the database without starting a runtime (no hub, bus or housekeeping pass)."""
    from parlour.services import close_services, open_services

    async def main() -> None:
        await close_services(await open_services(settings))

    try:
        asyncio.run(main())
    except ParlourError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema."""

    _run(_settings(data_dir), _nothing)
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
