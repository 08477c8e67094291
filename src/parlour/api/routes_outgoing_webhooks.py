"""Outgoing webhooks, made, listed and stopped by org admins (API.md, "Integrations"; the
delivery runs in integrations/delivery.py).

`DELETE /api/v1/webhooks/{id}` serves incoming and outgoing webhooks alike: it is in
api/routes_incoming_webhooks.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from parlour.api.deps import AUTH_ERRORS, BODY_ERRORS, CurrentActor, ServicesDep, error_responses
from parlour.integrations import outgoing
from parlour.integrations.outgoing import (
    OutgoingWebhookCreatedOut,
    OutgoingWebhookIn,
    OutgoingWebhookOut,
)

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
