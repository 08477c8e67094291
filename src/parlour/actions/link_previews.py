"""Link previews after a send or an edit: a queue in the process that stored the message, a
cache shared by every process, and the write that announces the previews (`message.updated`).

The send path only hands over the message id and its content when the content mentions
"http" (a substring test; most messages stop there), and never waits: the links are found,
fetched and stored by `WORKERS` tasks beside the request path. The queue is in memory: a crash
between a send and its preview loses only the preview (the message is stored and announced).

A link posted 100 times is fetched once: the `link_previews` table remembers each URL's preview,
or that it has none, for `FRESH` (`FRESH_NOTHING`); and concurrent sends of the same link in one
process wait for the one fetch in flight. The write announces the previews only if the message
still exists, is not deleted, and still says what was read (an edit meanwhile queued its own
pass, which previews the new links).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from parlour.actions.present import messages_out
from parlour.events import stream
from parlour.events.types import MessageUpdated
from parlour.integrations.previews import fetch_preview, links_to_preview, preview_session
from parlour.outbound import parse_networks
from parlour.services import Services
from parlour.storage import messages as message_queries
from parlour.storage.models import LinkPreview, Room
from parlour.storage.writer import WriteContext
from parlour.tasks import cancel_and_wait

log = logging.getLogger("parlour.previews")

Preview = dict[str, Any]

WORKERS = 4  # messages previewed at once, and so pages fetched at once (per process)
QUEUE_SIZE = 10_000  # beyond it a preview is dropped: never memory without bound
FRESH = timedelta(hours=24)
FRESH_NOTHING = timedelta(hours=1)  # a page that failed may be back sooner


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def schedule(services: Services, message_id: str, content: str) -> None:
    """Queue the message's links for previews (after its send or edit); returns at once."""
    # The test every send pays (a substring search): only content with a "://" goes further.
    if not services.settings.link_previews or "://" not in content:
        return
    if services.link_previews is None:
        services.link_previews = LinkPreviews(services)
    services.link_previews.submit(message_id, content)


def kept_previews(previews: list[Preview] | None, content: str) -> list[Preview]:
    """An edit keeps the previews of the links the new content still has (no refetch)."""
    if not previews:
        return []
    links = set(links_to_preview(content))
    return [preview for preview in previews if preview.get("url") in links]


class LinkPreviews:
    """The process's preview queue, its workers and its fetches in flight."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(QUEUE_SIZE)
        self._in_flight: dict[str, asyncio.Future[Preview | None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._http = preview_session()
        self.fetches = 0  # pages fetched by this process (tests and logs)

    def submit(self, message_id: str, content: str) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(WORKERS)]
        try:
            self._queue.put_nowait((message_id, content))
        except asyncio.QueueFull:
            log.warning("link preview queue full: message=%s left without previews", message_id)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await self._http.close()

    async def _work(self) -> None:
        while True:
            message_id, content = await self._queue.get()
            try:
                links = links_to_preview(content)
                if links:
                    found = await asyncio.gather(*(self.preview_of(url) for url in links))
                    previews = [preview for preview in found if preview is not None]
                    await store_previews(self._services, message_id, content, previews)
            except Exception:  # a bug or the database: this message goes without
                log.exception("link previews failed message=%s", message_id)

    async def preview_of(self, url: str) -> Preview | None:
        """From the cache, from a fetch in flight, or fetched (and remembered)."""
        waiting = self._in_flight.get(url)
        if waiting is not None:
            return await asyncio.shield(waiting)
        # In flight from before the cache is read until the fetch is remembered: a second
        # lookup finds either this future or the stored row, never a gap between the two.
        future: asyncio.Future[Preview | None] = asyncio.get_running_loop().create_future()
        self._in_flight[url] = future
        try:
            preview = await self._cached_or_fetched(url)
        except BaseException as failed:
            if isinstance(failed, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(failed)
                future.exception()  # retrieved: its waiters see it, nobody else needs to
            raise
        else:
            future.set_result(preview)
            return preview
        finally:
            del self._in_flight[url]

    async def _cached_or_fetched(self, url: str) -> Preview | None:
        services = self._services
        key = url_hash(url)
        async with services.db.read_session() as session:
            row = await session.get(LinkPreview, key)
            if row is not None:
                age = services.clock.now() - row.fetched_at
                if age < (FRESH if row.preview is not None else FRESH_NOTHING):
                    return row.preview
        self.fetches += 1
        preview = await fetch_preview(
            self._http,
            url,
            allowed=parse_networks(services.settings.outbound_allow_networks),
            seconds=services.settings.link_preview_timeout_seconds,
        )
        await remember(services, url, preview)
        return preview


async def remember(services: Services, url: str, preview: Preview | None) -> None:
    """Store a URL's preview (or that it has none), whoever stored it a moment ago."""
    values = {"url_hash": url_hash(url), "url": url, "fetched_at": services.clock.now()}

    async def job(ctx: WriteContext) -> None:
        dialect = postgresql if services.dialect == "postgresql" else sqlite
        statement = dialect.insert(LinkPreview.__table__).values(**values, preview=preview)
        await ctx.session.execute(
            statement.on_conflict_do_update(
                index_elements=["url_hash"],
                set_={"url": url, "fetched_at": values["fetched_at"], "preview": preview},
            )
        )

    await services.writer.run(job)


async def store_previews(
    services: Services, message_id: str, content: str, previews: list[Preview]
) -> None:
    """Set the message's previews and announce it, if it still says `content` and they changed."""

    async def job(ctx: WriteContext) -> None:
        message = await message_queries.by_id(ctx.session, message_id, for_update=True)
        if message is None or message.deleted or message.content != content:
            return  # gone, or edited meanwhile: the edit's own pass previews its links
        if (message.previews or []) == previews:
            return
        message.previews = previews
        await ctx.session.flush()
        room = await ctx.session.scalar(select(Room).where(Room.id == message.room_id))
        assert room is not None
        [view] = await messages_out(ctx.session, [message], services.presence)
        await stream.append(
            ctx, org_id=room.org_id, event=MessageUpdated(message=view), room_id=room.id
        )

    await services.writer.run(job)
