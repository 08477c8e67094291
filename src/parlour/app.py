"""The ASGI application: REST routes, the event WebSocket, the web UI, and their lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from parlour import __version__
from parlour.api import (
    errors,
    openapi,
    routes_auth,
    routes_messages,
    routes_rooms,
    routes_users,
    ws,
)
from parlour.api.limits import BodyLimitMiddleware
from parlour.clock import Clock
from parlour.config import Settings
from parlour.events import stream
from parlour.events.hub import Hub
from parlour.events.realtime import Realtime
from parlour.services import Services, build_services
from parlour.storage.migrate import upgrade
from parlour.storage.writer import WriteContext

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent / "web"


async def start_services(services: Services, *, migrate: bool = True) -> Realtime:
    if services.db.is_sqlite:
        services.settings.data_dir.mkdir(parents=True, exist_ok=True)
    if migrate:
        await upgrade(services.db.writer)
    services.writer.start()

    async def read_epoch(ctx: WriteContext) -> str:
        return await stream.ensure_epoch(ctx.session)

    services.epoch = await services.writer.run(read_epoch)
    hub = Hub(services.db, services.epoch, poll_seconds=services.settings.stream_poll_seconds)
    realtime = Realtime(services, hub)
    await realtime.start()
    return realtime


async def stop_services(services: Services, realtime: Realtime) -> None:
    await realtime.stop()
    await services.writer.stop()
    await services.db.dispose()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, clock)
        realtime = await start_services(services)
        app.state.services = services
        app.state.realtime = realtime
        try:
            yield
        finally:
            await stop_services(services, realtime)

    app = FastAPI(
        title="Parlour",
        version=__version__,
        description="A self-hosted team chat server. Contract: shared/API.md.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, limits=settings.limits)
    for router in (
        routes_auth.router,
        routes_users.router,
        routes_rooms.router,
        routes_messages.router,
        ws.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    openapi.install(app, settings.limits)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        response = FileResponse(WEB_DIR / "index.html", media_type="text/html")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
            "script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app
