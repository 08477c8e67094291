"""`parlour serve` in which every socket's session is revoked between authentication and attach.

Run as `python -m tests.realtime.revoking_server serve ...` (a real server process). The race it
pins down: a socket authenticates, then its session is revoked (logout) and the hub passes the
revocation event while the socket is not attached yet, so the hub has nothing to close; then the
socket attaches. Wrapping the socket's authentication makes that order certain instead of lucky.
"""

from __future__ import annotations

from fastapi import WebSocket

from parlour.actions.auth import Authenticated, do_logout
from parlour.api import ws
from parlour.api.deps import get_runtime
from parlour.cli import app
from parlour.services import Services

_authenticate = ws._authenticate


async def _authenticate_then_revoke(
    websocket: WebSocket, services: Services
) -> Authenticated | None:
    auth = await _authenticate(websocket, services)
    if auth is not None:
        await do_logout(services, auth.actor)
        # Past the revocation event now, with this socket not attached: it closes nothing.
        await get_runtime(websocket).realtime.hub.catch_up()
    return auth


ws._authenticate = _authenticate_then_revoke

if __name__ == "__main__":
    app(prog_name="parlour")
