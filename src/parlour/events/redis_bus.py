"""The Redis bus: one pub/sub channel shared by every `parlour serve` process.

A publish that fails (Redis down) is dropped on purpose: durable events are still in the database
and every hub polls it, so the only cost of an outage is latency up to one poll interval. The
subscriber reconnects on its own and, on reconnect, pokes the local hub so it catches up at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from parlour.events.bus import BusListener

log = logging.getLogger(__name__)

CHANNEL = "parlour:bus"
RETRY_SECONDS = 0.5


class RedisBus:
    def __init__(self, url: str) -> None:
        self._url = url
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=5
        )
        self._listener: BusListener | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.healthy = False

    def set_listener(self, listener: BusListener) -> None:
        self._listener = listener

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._subscribe(ready), name="parlour-redis-bus")
        # Wait briefly for the subscription so early publishes are heard; don't block start-up
        # if Redis is down (the server still works, from the database, without it).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._pending):
            task.cancel()
        await self._client.aclose()

    def stream_advanced(self, position: int) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().call_soon(self._listener.on_stream_advanced, position)
        self._publish({"kind": "stream", "position": position})

    def signal(self, signal: dict[str, Any]) -> None:
        # Our own signals come back through the subscription, like everyone else's.
        self._publish(signal)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    def _publish(self, message: dict[str, Any]) -> None:
        async def publish() -> None:
            try:
                await self._client.publish(CHANNEL, orjson.dumps(message))
            except (RedisError, OSError) as error:
                self.healthy = False
                log.debug("bus publish dropped: %s", error)

        task = asyncio.create_task(publish())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _subscribe(self, ready: asyncio.Event) -> None:
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                self.healthy = True
                ready.set()
                if self._listener is not None:
                    # We may have missed pokes while away: read the stream now.
                    self._listener.on_stream_advanced(1 << 62)
                async for message in pubsub.listen():
                    self._deliver(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self.healthy = False
                log.warning("Redis bus lost (%s); retrying", error)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RETRY_SECONDS)

    def _deliver(self, message: dict[str, Any]) -> None:
        if self._listener is None or message.get("type") != "message":
            return
        try:
            payload = orjson.loads(message["data"])
        except orjson.JSONDecodeError:
            return
        if payload.get("kind") == "stream":
            self._listener.on_stream_advanced(int(payload["position"]))
        else:
            self._listener.on_signal(payload)
