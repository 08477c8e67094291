"""Parlour's Python SDK: the REST client and the resumable event stream.

Used by the test suites, the benchmarks and bots; it speaks only the public contract
(shared/API.md), never internal modules.
"""

from parlour.client.backoff import Backoff
from parlour.client.errors import (
    ConnectionLost,
    ParlourAPIError,
    ParlourError,
    ProtocolError,
    SessionRevoked,
)
from parlour.client.events import Event, EventStream, events_url, parse_frame
from parlour.client.models import (
    Attachment,
    Bot,
    Channel,
    ChatProfile,
    IncomingWebhook,
    LinkPreview,
    Message,
    MessageVersion,
    OutgoingWebhook,
    Reaction,
    Room,
    Status,
    Unread,
    User,
)
from parlour.client.rest import ParlourClient, is_retryable, new_client_id

__all__ = [
    "Attachment",
    "Backoff",
    "Bot",
    "Channel",
    "ChatProfile",
    "ConnectionLost",
    "Event",
    "EventStream",
    "IncomingWebhook",
    "LinkPreview",
    "Message",
    "MessageVersion",
    "OutgoingWebhook",
    "ParlourAPIError",
    "ParlourClient",
    "ParlourError",
    "ProtocolError",
    "Reaction",
    "Room",
    "SessionRevoked",
    "Status",
    "Unread",
    "User",
    "events_url",
    "is_retryable",
    "new_client_id",
    "parse_frame",
]
