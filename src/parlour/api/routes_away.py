"""Web Push subscriptions and the e-mail unsubscribe link (API.md, "Reaching people who are
away")."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse

from parlour.api.deps import AUTH_ERRORS, BODY_ERRORS, CurrentActor, ServicesDep, error_responses
from parlour.away import secrets, subscriptions
from parlour.schemas import IdOut, PushKeyOut, PushSubscriptionIn

router = APIRouter(prefix="/api/v1", tags=["notifications"])

SubscriptionIdPath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
TokenQuery = Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
UserIdQuery = Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/push/key", response_model=PushKeyOut, responses=error_responses(401))
async def push_key(actor: CurrentActor, services: ServicesDep) -> PushKeyOut:
    """The server's VAPID public key (base64url), the browser's `applicationServerKey`."""
    return PushKeyOut(public_key=secrets.public_key(await secrets.vapid(services)))


@router.post(
    "/push/subscriptions",
    response_model=IdOut,
    status_code=201,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def subscribe(body: PushSubscriptionIn, actor: CurrentActor, services: ServicesDep) -> IdOut:
    """Keep this browser's push subscription; an endpoint the outbound guard refuses is 422
    `invalid_endpoint`."""
    subscription_id = await subscriptions.do_subscribe(
        services, actor, body.endpoint, body.keys.p256dh, body.keys.auth
    )
    return IdOut(id=subscription_id)


@router.delete(
    "/push/subscriptions/{subscription_id}",
    status_code=204,
    responses=error_responses(*AUTH_ERRORS, 404, 422),
)
async def unsubscribe(
    subscription_id: SubscriptionIdPath, actor: CurrentActor, services: ServicesDep
) -> Response:
    await subscriptions.do_unsubscribe_push(services, actor, subscription_id)
    return Response(status_code=204)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;"
        f"padding:0 1rem'><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}


@router.get("/email/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_page(u: UserIdQuery, t: TokenQuery, services: ServicesDep) -> HTMLResponse:
    """The link in every e-mail: a page with one button (a GET changes nothing, so a mail
    scanner that follows links unsubscribes nobody)."""
    if not await subscriptions.check_unsubscribe(services, u, t):
        return HTMLResponse(
            _page("Link not valid", "<p>This unsubscribe link is not valid.</p>"),
            status_code=404,
            headers=_PAGE_HEADERS,
        )
    action = html.escape(f"/api/v1/email/unsubscribe?u={u}&t={t}", quote=True)
    form = (
        "<p>Stop the e-mails that tell you about unread messages?</p>"
        f"<form method='post' action='{action}'>"
        "<button type='submit'>Stop e-mail notifications</button></form>"
    )
    return HTMLResponse(_page("E-mail notifications", form), headers=_PAGE_HEADERS)


@router.post("/email/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_now(u: UserIdQuery, t: TokenQuery, services: ServicesDep) -> HTMLResponse:
    """One-click unsubscribe (RFC 8058: a POST of `List-Unsubscribe=One-Click`, or the page's
    button); no login: the link's token is the proof."""
    if not await subscriptions.do_email_unsubscribe(services, u, t):
        return HTMLResponse(
            _page("Link not valid", "<p>This unsubscribe link is not valid.</p>"),
            status_code=404,
            headers=_PAGE_HEADERS,
        )
    done = "<p>You will get no more e-mail notifications. Turn them back on in Preferences.</p>"
    return HTMLResponse(_page("Unsubscribed", done), headers=_PAGE_HEADERS)
