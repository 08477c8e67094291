"""The ASGI application: REST routes, the event WebSocket, the web UI, and their lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from parlour import __version__
from parlour.api import (
    errors,
    openapi,
    query,
    redact,
    routes_auth,
    routes_avatars,
    routes_away,
    routes_bots,
    routes_channels,
    routes_incoming_webhooks,
    routes_messages,
    routes_outgoing_webhooks,
    routes_reactions,
    routes_rooms,
    routes_users,
    ws,
)
from parlour.api.fast_lane import FastLane
from parlour.api.lane_routes import LANE_ROUTES
from parlour.api.limits import BodyLimitMiddleware
from parlour.clock import Clock
from parlour.config import Settings
from parlour.domain.emoji_names import picker_catalog
from parlour.runtime import start_runtime, stop_runtime

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent / "web"


def settle_garbage_collector() -> None:
    """Keep what startup made (modules, the app, the services) out of the collector's full
    passes: each walks every tracked object of the process, and the four passes of a worker's
    startup took 30-135 ms each (measured with gc.callbacks), a stall of the event loop that a
    later full pass would pay again. Frozen objects are never collected; anything made later
    still is."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, migrate: bool = True
) -> FastAPI:
    """The app; `migrate=False` when another process migrated the database (`--workers N`)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime(settings, clock, migrate=migrate)
        app.state.runtime = runtime
        settle_garbage_collector()
        try:
            yield
        finally:
            await stop_runtime(runtime)

    app = FastAPI(
        title="Parlour",
        version=__version__,
        description="A self-hosted team chat server. Contract: shared/API.md.",
        lifespan=lifespan,
    )
    errors.install(app)
    # Incoming webhooks' URLs hold their secret: no log line may show it (api/redact.py).
    redact.install()
    query.install(app)
    app.add_middleware(BodyLimitMiddleware, limits=settings.limits)
    # Outermost of ours: the hottest requests skip FastAPI's routing (api/fast_lane.py).
    app.add_middleware(FastLane, routes=LANE_ROUTES, body_limit=settings.limits.request_body_bytes)
    for router in (
        routes_auth.router,
        routes_users.router,
        routes_avatars.router,
        routes_away.router,
        routes_rooms.router,
        routes_channels.router,
        routes_messages.router,
        routes_reactions.router,
        routes_bots.router,
        routes_incoming_webhooks.router,
        routes_outgoing_webhooks.router,
        ws.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    openapi.install(app, settings.limits)

    @app.get("/emoji.json", include_in_schema=False)
    async def emoji_catalog() -> Response:
        # The reaction picker's list (emoji as text, searchable by name): no image CDN.
        return Response(
            orjson.dumps(picker_catalog()),
            media_type="application/json",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> FileResponse:
        # Served from the root so that its scope is the whole app (a worker under /static/
        # could only control /static/); revalidated on every load, so an update reaches
        # everyone at their next visit.
        response = FileResponse(WEB_DIR / "sw.js", media_type="text/javascript")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/manifest.webmanifest", include_in_schema=False)
    async def manifest() -> FileResponse:
        return FileResponse(
            WEB_DIR / "manifest.webmanifest", media_type="application/manifest+json"
        )

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        response = FileResponse(WEB_DIR / "index.html", media_type="text/html")
        response.headers["Content-Security-Policy"] = (
            # https: images are link previews' pictures (the UI loads only https ones, no referrer).
            "default-src 'self'; img-src 'self' blob: data: https:; style-src 'self'; "
            "script-src 'self'; connect-src 'self' ws: wss:; worker-src 'self'; "
            "manifest-src 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app
