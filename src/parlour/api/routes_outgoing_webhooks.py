"""Outgoing webhooks, made, listed and stopped by org admins (API.md, "Integrations"; the
delivery runs in integrations/delivery.py).

`DELETE /api/v1/webhooks/{id}` serves incoming and outgoing webhooks alike: the incoming side's
route owns the path and hands an id that is none of its own to `OTHER_WEBHOOK_DELETE`, set here.
"""

from __future__ import annotations

from fastapi import APIRouter

from parlour.actions.context import Actor
from parlour.api import routes_incoming_webhooks
from parlour.api.deps import AUTH_ERRORS, BODY_ERRORS, CurrentActor, ServicesDep, error_responses
from parlour.errors import NotFound
from parlour.integrations import outgoing
from parlour.integrations.outgoing import (
    OutgoingWebhookCreatedOut,
    OutgoingWebhookIn,
    OutgoingWebhookOut,
)
from parlour.services import Services

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


@router.post(
    "/webhooks",
    response_model=OutgoingWebhookCreatedOut,
    status_code=201,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404),
)
async def create_outgoing_webhook(
    body: OutgoingWebhookIn, actor: CurrentActor, services: ServicesDep
) -> OutgoingWebhookCreatedOut:
    """Subscribe `url` to these event types (of these rooms, or every room of the organization);
    the `secret` that signs each delivery is shown only here."""
    return await outgoing.do_create(services, actor, body)


@router.get(
    "/webhooks",
    response_model=list[OutgoingWebhookOut],
    responses=error_responses(*AUTH_ERRORS),
)
async def list_outgoing_webhooks(
    actor: CurrentActor, services: ServicesDep
) -> list[OutgoingWebhookOut]:
    """The organization's outgoing webhooks with their last delivery's status and error."""
    return await outgoing.do_list(services, actor)


async def _delete(services: Services, actor: Actor, webhook_id: str) -> None:
    if not await outgoing.delete_outgoing_webhook(services, actor, webhook_id):
        raise NotFound("No such webhook.", code="webhook_not_found")


routes_incoming_webhooks.OTHER_WEBHOOK_DELETE = _delete
