"""Incoming webhooks: made, listed and revoked by room admins; posted to by anyone holding the
URL (no session, no cookie, no CSRF: the URL's secret is the credential).

The secret is in the path, so nothing may log the path as it is: api/redact.py masks it in
uvicorn's access log and in our own error log lines.
"""

from __future__ import annotations

import weakref
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from parlour.actions import incoming_webhooks as hook_actions
from parlour.api.deps import AUTH_ERRORS, BODY_ERRORS, CurrentActor, ServicesDep, error_responses
from parlour.api.id_check import ID_MAX_CHARS, RoomIdPath
from parlour.api.throttle import KeyedBuckets
from parlour.config import Limits
from parlour.errors import NotFound, RateLimited
from parlour.integrations import outgoing
from parlour.schemas import (
    CreateIncomingWebhookIn,
    IdOut,
    IncomingWebhookCreatedOut,
    IncomingWebhookOut,
    IncomingWebhookPostIn,
)
from parlour.services import Services

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

WebhookIdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX_CHARS)]

# A token bucket per webhook, per app (like api/throttle.py's send buckets).
_buckets: weakref.WeakKeyDictionary[object, KeyedBuckets] = weakref.WeakKeyDictionary()


def _posts(app: object, limits: Limits) -> KeyedBuckets:
    found = _buckets.get(app)
    if found is None:
        found = _buckets[app] = KeyedBuckets(limits.webhook_posts_per_second, limits.webhook_burst)
    return found


def _base_url(services: Services, request: Request) -> str:
    """The server's public address: PARLOUR_PUBLIC_URL when the operator set it, else the one
    this request came in by."""
    if "public_url" in services.settings.model_fields_set:
        return services.settings.public_url
    return str(request.base_url)


@router.post(
    "/rooms/{room_id}/webhooks",
    response_model=IncomingWebhookCreatedOut,
    status_code=201,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404),
)
async def create_webhook(
    room_id: RoomIdPath,
    body: CreateIncomingWebhookIn,
    actor: CurrentActor,
    services: ServicesDep,
    request: Request,
) -> IncomingWebhookCreatedOut:
    return await hook_actions.do_create_webhook(
        services, actor, room_id, body.name, _base_url(services, request)
    )


@router.get(
    "/rooms/{room_id}/webhooks",
    response_model=list[IncomingWebhookOut],
    responses=error_responses(*AUTH_ERRORS, 404, 422),
)
async def list_webhooks(
    room_id: RoomIdPath, actor: CurrentActor, services: ServicesDep
) -> list[IncomingWebhookOut]:
    return await hook_actions.list_webhooks(services, actor, room_id)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    responses=error_responses(*AUTH_ERRORS, 404, 422),
)
async def revoke_webhook(
    webhook_id: WebhookIdPath, actor: CurrentActor, services: ServicesDep
) -> Response:
    """Incoming and outgoing webhooks alike (API.md): their ids are of one kind, never equal."""
    if await hook_actions.is_incoming_webhook(services, webhook_id):
        await hook_actions.do_revoke_webhook(services, actor, webhook_id)
    elif not await outgoing.delete_outgoing_webhook(services, actor, webhook_id):
        raise NotFound("No such webhook.", code="webhook_not_found")
    return Response(status_code=204)


@router.post(
    "/hooks/{webhook_id}/{secret}",
    response_model=IdOut,
    responses=error_responses(*BODY_ERRORS, 404, 429),
)
async def post_to_webhook(
    # Unchecked here: any id or secret that is not a live webhook's gets the same 404.
    webhook_id: str,
    secret: str,
    body: IncomingWebhookPostIn,
    services: ServicesDep,
    request: Request,
) -> IdOut:
    """Post `text` (Markdown) into the webhook's room as its bot; `username` is the label."""
    target = await hook_actions.find_webhook(services, webhook_id, secret)
    # Taken only once the secret matched: guesses cannot use up a real webhook's budget.
    wait = _posts(request.app, services.limits).take(target.webhook_id, services.clock.monotonic())
    if wait is not None:
        raise RateLimited("Too many posts to this webhook; slow down.", retry_after=wait)
    message_id = await hook_actions.post_to_webhook(services, target, body.text, body.username)
    return IdOut(id=message_id)
