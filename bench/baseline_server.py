"""The bare WebSocket broadcast server every realtime figure is compared with.

    uv run --frozen python -m bench.baseline_server --port 8765

Same library stack as Parlour (Starlette WebSocket route, uvicorn, the same uvicorn WebSocket
implementation and options as `parlour serve`), and nothing else: no auth, no database, no bus,
no JSON parsing. A client connects to `/ws?group=G`; every text frame it sends is broadcast,
unchanged, to every socket in group G (the sender included, as Parlour sends its author the
`message.created` too). The bench clients send frames shaped and sized like Parlour's
`message.created` event (bench.load.bare_frame), so both servers deliver the same bytes.

Each socket has an outbox and a send task, like Parlour's hub: a broadcast is a loop of cheap
appends, and one slow socket does not stall the others.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import deque

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


class Peer:
    __slots__ = ("outbox", "wake")

    def __init__(self) -> None:
        self.outbox: deque[str] = deque()
        self.wake = asyncio.Event()

    def push(self, frame: str) -> None:
        self.outbox.append(frame)
        self.wake.set()


GROUPS: dict[str, set[Peer]] = {}


async def _send_loop(websocket: WebSocket, peer: Peer) -> None:
    while True:
        while not peer.outbox:
            peer.wake.clear()
            await peer.wake.wait()
        frames = list(peer.outbox)
        peer.outbox.clear()
        for frame in frames:
            await websocket.send_text(frame)


async def broadcast(websocket: WebSocket) -> None:
    group = websocket.query_params.get("group", "all")
    await websocket.accept()
    await websocket.send_text('{"type":"hello"}')
    peer = Peer()
    members = GROUPS.setdefault(group, set())
    members.add(peer)
    sender = asyncio.create_task(_send_loop(websocket, peer))
    try:
        while True:
            text = await websocket.receive_text()
            for other in members:
                other.push(text)
    except WebSocketDisconnect:
        pass
    finally:
        members.discard(peer)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/healthz", healthz), WebSocketRoute("/ws", broadcast)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    # The same options `parlour serve` passes to uvicorn (src/parlour/cli.py).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        ws_max_size=1024 * 1024,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
