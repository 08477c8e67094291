"""The bare HTTP server every REST figure of the `http` scenario is compared with.

    uv run --frozen python -m bench.baseline_http --port 8766 [--workers 2]

Same library stack as Parlour (Starlette, uvicorn with the options and the HTTP protocol class
`parlour serve` passes: parlour.server.server_options), and nothing else: no auth, no database,
no validation. `GET /size/N` answers a constant JSON body of exactly N bytes, `POST /size/N`
reads the request body and answers the same with 201. The bench asks Parlour first and then
points wrk at the bare route of the same size, so both servers send the same bytes.

With `--workers N` the listening socket is bound once and N forked processes serve it, as a
multi-process `parlour serve` shares its port.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from parlour.config import Settings
from parlour.server import server_options


@functools.cache
def constant_body(size: int) -> bytes:
    """Valid JSON of exactly `size` bytes (at least the 12 of an empty pad)."""
    shell = b'{"pad":""}'
    return shell[:-2] + b"x" * max(0, size - len(shell)) + shell[-2:]


async def sized_get(request: Request) -> Response:
    size = int(request.path_params["size"])
    return Response(constant_body(size), media_type="application/json")


async def sized_post(request: Request) -> Response:
    await request.body()  # a real handler reads what it was sent
    size = int(request.path_params["size"])
    return Response(constant_body(size), status_code=201, media_type="application/json")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/size/{size:int}", sized_get, methods=["GET"]),
        Route("/size/{size:int}", sized_post, methods=["POST"]),
    ]
)


def config(host: str, port: int) -> uvicorn.Config:
    # The same options `parlour serve` passes to uvicorn (src/parlour/cli.py), minus lifespan,
    # which this app does not have.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,
        **server_options(Settings()),
    )


def serve_forked(cfg: uvicorn.Config, workers: int) -> None:
    """Bind once, fork `workers` servers on the socket, and stop them when told to stop."""
    sock = cfg.bind_socket()
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            uvicorn.Server(cfg).run(sockets=[sock])
            os._exit(0)
        children.append(pid)
    sock.close()

    def stop(*_args: object) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in children:
        os.waitpid(pid, 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    cfg = config(args.host, args.port)
    if args.workers <= 1:
        uvicorn.Server(cfg).run()
    else:
        serve_forked(cfg, args.workers)


if __name__ == "__main__":
    main()
