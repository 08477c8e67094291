"""ParlourClient: one typed async method per REST endpoint of the v1 contract."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
import orjson
from pydantic import TypeAdapter

from parlour.client.backoff import Backoff
from parlour.client.errors import ParlourAPIError
from parlour.client.events import EventStream, events_url
from parlour.client.models import (
    Attachment,
    Bot,
    Channel,
    ChatProfile,
    IncomingWebhook,
    Message,
    MessageVersion,
    OutgoingWebhook,
    Room,
    Status,
    Unread,
    User,
)

API = "/api/v1"

_users = TypeAdapter(list[User])
_rooms = TypeAdapter(list[Room])
_messages = TypeAdapter(list[Message])
_versions = TypeAdapter(list[MessageVersion])
_profiles = TypeAdapter(list[ChatProfile])
_channels = TypeAdapter(list[Channel])
_incoming_webhooks = TypeAdapter(list[IncomingWebhook])
_outgoing_webhooks = TypeAdapter(list[OutgoingWebhook])

Query = Mapping[str, str | int | None]


def new_client_id() -> str:
    """A fresh idempotency key for a send (unguessable, unique per message)."""
    return uuid.uuid4().hex


def is_retryable(exc: Exception) -> bool:
    """Whether repeating the same request may succeed: network trouble, 5xx, or rate limiting."""
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, ParlourAPIError) and (exc.status >= 500 or exc.status == 429)


class ParlourClient:
    """Async REST client authenticated by Bearer token.

    The SDK never authenticates by cookie: login's session cookie is discarded, so the cookie
    rules (CSRF header, Origin checks) never apply to SDK requests.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        # The logged-in user, once known (login or me()); leave() needs its id.
        self.user: User | None = None
        self.backoff = backoff or Backoff()
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def events(
        self, since: str | None = None, *, reconnect: bool = True, open_timeout: float = 10.0
    ) -> EventStream:
        """The realtime feed, not yet connected: use `async with` or `await stream.connect()`."""
        return EventStream(
            events_url(self.base_url),
            self.token,
            since=since,
            reconnect=reconnect,
            backoff=self.backoff,
            open_timeout=open_timeout,
        )

    # -- plumbing ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Query | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        """Send one request; any non-2xx answer raises ParlourAPIError."""
        headers: dict[str, str] = {}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        content: bytes | None = None
        if body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = await self._http.request(
            method, path, content=content, params=query, headers=headers, files=files
        )
        if not response.is_success:
            await response.aread()
            raise ParlourAPIError.from_http(
                response.status_code,
                response.content,
                retry_after=response.headers.get("Retry-After"),
                reason=response.reason_phrase,
            )
        return response

    async def healthz(self) -> dict[str, Any]:
        response = await self._request("GET", "/healthz", auth=False)
        result: dict[str, Any] = orjson.loads(response.content)
        return result

    # -- auth -------------------------------------------------------------------------------

    async def login(self, email: str, password: str) -> User:
        """Log in and keep the token for every later request (and for `events()`)."""
        response = await self._request(
            "POST", f"{API}/auth/login", body={"email": email, "password": password}, auth=False
        )
        self._http.cookies.clear()  # Bearer only: see the class docstring.
        data = orjson.loads(response.content)
        self.token = data["token"]
        self.user = User.model_validate(data["user"])
        return self.user

    async def logout(self) -> None:
        """End the session server-side; the token is forgotten even if the server refuses."""
        try:
            await self._request("POST", f"{API}/auth/logout")
        finally:
            self.token = None
            self.user = None

    # -- users and profiles -----------------------------------------------------------------

    async def search_users(
        self, q: str | None = None, limit: int | None = None, *, include_inactive: bool = False
    ) -> list[User]:
        """People of my organization; deactivated ones too with include_inactive (admins)."""
        params: dict[str, str | int | None] = {"q": q, "limit": limit}
        if include_inactive:
            params["include_inactive"] = "true"
        response = await self._request("GET", f"{API}/users", params=params)
        return _users.validate_json(response.content)

    async def set_avatar(self, data: bytes, content_type: str = "image/png") -> User:
        """Upload my avatar (PNG, JPEG, GIF or WebP, at most 512 KB)."""
        response = await self._request(
            "PUT", f"{API}/users/me/avatar", files={"file": ("avatar", data, content_type)}
        )
        self.user = User.model_validate_json(response.content)
        return self.user

    async def remove_avatar(self) -> User:
        response = await self._request("DELETE", f"{API}/users/me/avatar")
        self.user = User.model_validate_json(response.content)
        return self.user

    async def me(self) -> User:
        response = await self._request("GET", f"{API}/users/me")
        self.user = User.model_validate_json(response.content)
        return self.user

    async def update_me(
        self,
        *,
        full_name: str | None = None,
        status: Status | None = None,
        preferences: Mapping[str, bool | str] | None = None,
    ) -> User:
        body: dict[str, Any] = {}
        if full_name is not None:
            body["full_name"] = full_name
        if status is not None:
            body["status"] = status
        if preferences is not None:
            body["preferences"] = dict(preferences)
        response = await self._request("PATCH", f"{API}/users/me", body=body)
        self.user = User.model_validate_json(response.content)
        return self.user

    async def change_password(self, current_password: str, new_password: str) -> None:
        await self._request(
            "POST",
            f"{API}/users/me/password",
            body={"current_password": current_password, "new_password": new_password},
        )

    async def create_user(
        self, email: str, full_name: str, password: str, *, is_admin: bool = False
    ) -> User:
        """Admin only."""
        response = await self._request(
            "POST",
            f"{API}/users",
            body={
                "email": email,
                "full_name": full_name,
                "password": password,
                "is_admin": is_admin,
            },
        )
        return User.model_validate_json(response.content)

    async def deactivate_user(self, user_id: str) -> None:
        """Admin only; the user's tokens are revoked and their sockets closed (4401)."""
        await self._request("PATCH", f"{API}/users/{user_id}", body={"is_active": False})

    # -- bots and incoming webhooks ---------------------------------------------------------

    async def create_bot(self, name: str) -> Bot:
        """Org admins. The bot's token is in the answer only: `ParlourClient(url, token=...)`."""
        response = await self._request("POST", f"{API}/bots", body={"name": name})
        return Bot.model_validate_json(response.content)

    async def list_bots(self) -> list[User]:
        """Org admins: the organization's active bots."""
        response = await self._request("GET", f"{API}/bots")
        return _users.validate_json(response.content)

    async def revoke_bot(self, user_id: str) -> None:
        """Org admins: the bot's token stops working and its sockets close (4401)."""
        await self._request("DELETE", f"{API}/bots/{user_id}")

    async def create_incoming_webhook(self, room_id: str, name: str) -> IncomingWebhook:
        """Room admins. The secret `url` is in the answer only."""
        response = await self._request(
            "POST", f"{API}/rooms/{room_id}/webhooks", body={"name": name}
        )
        return IncomingWebhook.model_validate_json(response.content)

    async def list_incoming_webhooks(self, room_id: str) -> list[IncomingWebhook]:
        """Room admins: the room's webhooks (without their URLs)."""
        response = await self._request("GET", f"{API}/rooms/{room_id}/webhooks")
        return _incoming_webhooks.validate_json(response.content)

    async def revoke_webhook(self, webhook_id: str) -> None:
        """A room admin of its room, or an org admin: its URL answers 404 from now on."""
        await self._request("DELETE", f"{API}/webhooks/{webhook_id}")

    async def create_outgoing_webhook(
        self, url: str, events: Sequence[str], room_ids: Sequence[str] | None = None
    ) -> OutgoingWebhook:
        """Org admins: POST these event types (of these rooms, or of every room) to `url`. The
        `secret` that signs the deliveries is in the answer only."""
        body: dict[str, Any] = {"url": url, "events": list(events)}
        if room_ids is not None:
            body["room_ids"] = list(room_ids)
        response = await self._request("POST", f"{API}/webhooks", body=body)
        return OutgoingWebhook.model_validate_json(response.content)

    async def list_outgoing_webhooks(self) -> list[OutgoingWebhook]:
        """Org admins: the organization's outgoing webhooks and their last delivery."""
        response = await self._request("GET", f"{API}/webhooks")
        return _outgoing_webhooks.validate_json(response.content)

    async def delete_outgoing_webhook(self, webhook_id: str) -> None:
        """Org admins: no more deliveries (one in flight may still arrive)."""
        await self._request("DELETE", f"{API}/webhooks/{webhook_id}")

    async def chat_profiles(self) -> list[ChatProfile]:
        response = await self._request("GET", f"{API}/reports/chat-profiles")
        return _profiles.validate_json(response.content)

    # -- rooms ------------------------------------------------------------------------------

    async def create_direct(self, user_id: str) -> Room:
        """The one direct room with `user_id`, created if needed (201) or existing (200)."""
        response = await self._request(
            "POST", f"{API}/rooms", body={"type": "direct", "user_id": user_id}
        )
        return Room.model_validate_json(response.content)

    async def create_group(self, name: str, member_ids: Sequence[str]) -> Room:
        response = await self._request(
            "POST",
            f"{API}/rooms",
            body={"type": "group", "name": name, "member_ids": list(member_ids)},
        )
        return Room.model_validate_json(response.content)

    async def create_channel(
        self, name: str, topic: str | None = None, member_ids: Sequence[str] = ()
    ) -> Room:
        body: dict[str, Any] = {"type": "channel", "name": name, "member_ids": list(member_ids)}
        if topic is not None:
            body["topic"] = topic
        response = await self._request("POST", f"{API}/rooms", body=body)
        return Room.model_validate_json(response.content)

    async def list_channels(self, q: str | None = None) -> list[Channel]:
        """Every channel of my organization, joined or not."""
        response = await self._request("GET", f"{API}/channels", params={"q": q})
        return _channels.validate_json(response.content)

    async def join(self, room_id: str) -> Room:
        response = await self._request("POST", f"{API}/rooms/{room_id}/join")
        return Room.model_validate_json(response.content)

    async def set_topic(self, room_id: str, topic: str) -> Room:
        response = await self._request("PATCH", f"{API}/rooms/{room_id}", body={"topic": topic})
        return Room.model_validate_json(response.content)

    async def set_notify(self, room_id: str, notify: str) -> Room:
        """My notification level for the room: "all", "mentions" or "none"."""
        response = await self._request(
            "PATCH", f"{API}/rooms/{room_id}/settings", body={"notify": notify}
        )
        return Room.model_validate_json(response.content)

    async def list_rooms(self, q: str | None = None) -> list[Room]:
        response = await self._request("GET", f"{API}/rooms", params={"q": q})
        return _rooms.validate_json(response.content)

    async def get_room(self, room_id: str) -> Room:
        response = await self._request("GET", f"{API}/rooms/{room_id}")
        return Room.model_validate_json(response.content)

    async def rename_room(self, room_id: str, name: str) -> Room:
        response = await self._request("PATCH", f"{API}/rooms/{room_id}", body={"name": name})
        return await self._room_from(response, room_id)

    async def add_members(self, room_id: str, user_ids: Sequence[str]) -> Room:
        response = await self._request(
            "POST", f"{API}/rooms/{room_id}/members", body={"user_ids": list(user_ids)}
        )
        return await self._room_from(response, room_id)

    async def set_room_admin(self, room_id: str, user_id: str, admin: bool = True) -> Room:
        """Make a member an admin of the group or channel, or (admin=False) not."""
        method = "PUT" if admin else "DELETE"
        response = await self._request(method, f"{API}/rooms/{room_id}/admins/{user_id}")
        return await self._room_from(response, room_id)

    async def remove_member(self, room_id: str, user_id: str) -> None:
        await self._request("DELETE", f"{API}/rooms/{room_id}/members/{user_id}")

    async def leave(self, room_id: str) -> None:
        """Remove myself from a room (allowed to anyone)."""
        me = self.user or await self.me()
        await self.remove_member(room_id, me.id)

    async def _room_from(self, response: httpx.Response, room_id: str) -> Room:
        # The contract does not fix what these writes answer: take the room if it came back,
        # otherwise (204) fetch it.
        if response.status_code == 204 or not response.content:
            return await self.get_room(room_id)
        return Room.model_validate_json(response.content)

    async def unread(self) -> Unread:
        response = await self._request("GET", f"{API}/unread")
        return Unread.model_validate_json(response.content)

    # -- messages ---------------------------------------------------------------------------

    async def list_messages(
        self,
        room_id: str,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Message]:
        """A page of a room's history, newest last."""
        response = await self._request(
            "GET",
            f"{API}/rooms/{room_id}/messages",
            params={"before": before, "after": after, "limit": limit},
        )
        return _messages.validate_json(response.content)

    async def send_message(
        self,
        room_id: str,
        content: str,
        client_id: str | None = None,
        attachment_ids: Sequence[str] | None = None,
        reply_to: str | None = None,
    ) -> Message:
        """Post a message (a reply in `reply_to`'s thread, if given); answers once it is durably
        stored. Reusing a client_id returns the first message instead of a duplicate."""
        body: dict[str, Any] = {"content": content}
        if client_id is not None:
            body["client_id"] = client_id
        if attachment_ids is not None:
            body["attachment_ids"] = list(attachment_ids)
        if reply_to is not None:
            body["reply_to"] = reply_to
        response = await self._request("POST", f"{API}/rooms/{room_id}/messages", body=body)
        return Message.model_validate_json(response.content)

    async def send_with_retry(
        self,
        room_id: str,
        content: str,
        client_id: str | None = None,
        attachment_ids: Sequence[str] | None = None,
        *,
        attempts: int = 8,
    ) -> Message:
        """`send_message` that survives lost answers, 5xx and 429 by retrying with one client_id.

        Retrying is safe only because every attempt carries the same client_id, which the server
        de-duplicates: a send whose answer was lost is never stored twice.
        """
        client_id = client_id or new_client_id()
        for attempt in range(attempts):
            try:
                return await self.send_message(room_id, content, client_id, attachment_ids)
            except (httpx.TransportError, ParlourAPIError) as exc:
                if attempt == attempts - 1 or not is_retryable(exc):
                    raise
                delay = self.backoff.delay(attempt)
                if isinstance(exc, ParlourAPIError) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def thread(
        self, message_id: str, after: str | None = None, limit: int | None = None
    ) -> list[Message]:
        """A root's replies, oldest first (the id of a reply reads its root's thread)."""
        response = await self._request(
            "GET", f"{API}/messages/{message_id}/thread", params={"after": after, "limit": limit}
        )
        return _messages.validate_json(response.content)

    async def edit_message(self, message_id: str, content: str) -> Message:
        response = await self._request(
            "PATCH", f"{API}/messages/{message_id}", body={"content": content}
        )
        return Message.model_validate_json(response.content)

    async def message_history(self, message_id: str) -> list[MessageVersion]:
        """Every version, oldest first, the current one last."""
        response = await self._request("GET", f"{API}/messages/{message_id}/history")
        return _versions.validate_json(response.content)

    async def delete_message(self, message_id: str) -> None:
        await self._request("DELETE", f"{API}/messages/{message_id}")

    async def search_messages(
        self,
        q: str | None = None,
        room_id: str | None = None,
        author_id: str | None = None,
        limit: int | None = None,
        before: str | None = None,
    ) -> list[Message]:
        """The Chat Message List: messages in my rooms, newest first."""
        response = await self._request(
            "GET",
            f"{API}/messages",
            params={
                "q": q,
                "room_id": room_id,
                "author_id": author_id,
                "limit": limit,
                "before": before,
            },
        )
        return _messages.validate_json(response.content)

    async def receipts(self, room_id: str) -> dict[str, str | None]:
        """Every member's last read message id in the room (None: nothing read yet)."""
        response = await self._request("GET", f"{API}/rooms/{room_id}/receipts")
        found: dict[str, str | None] = orjson.loads(response.content)
        return found

    async def mark_read(self, room_id: str, message_id: str) -> None:
        """Move my read pointer forward to `message_id` (the server never moves it back)."""
        await self._request("POST", f"{API}/rooms/{room_id}/read", body={"message_id": message_id})

    # -- push notifications -----------------------------------------------------------------

    async def push_key(self) -> str:
        """The server's VAPID public key (base64url): a push subscription's applicationServerKey."""
        response = await self._request("GET", f"{API}/push/key")
        return str(response.json()["public_key"])

    async def subscribe_push(self, endpoint: str, p256dh: str, auth: str) -> str:
        """Keep a Web Push subscription (as a browser's PushSubscription.toJSON() names it)."""
        body = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
        response = await self._request("POST", f"{API}/push/subscriptions", body=body)
        return str(response.json()["id"])

    async def unsubscribe_push(self, subscription_id: str) -> None:
        await self._request("DELETE", f"{API}/push/subscriptions/{subscription_id}")

    # -- reactions, pins, saved messages ------------------------------------------------------

    async def react(self, message_id: str, emoji: str) -> None:
        """React with one emoji or a `:short_name:` (idempotent)."""
        await self._request("PUT", _reaction_path(message_id, emoji))

    async def unreact(self, message_id: str, emoji: str) -> None:
        await self._request("DELETE", _reaction_path(message_id, emoji))

    async def pin(self, message_id: str) -> None:
        await self._request("PUT", f"{API}/messages/{message_id}/pin")

    async def unpin(self, message_id: str) -> None:
        await self._request("DELETE", f"{API}/messages/{message_id}/pin")

    async def pins(self, room_id: str) -> list[Message]:
        """The room's pinned messages, newest pin first."""
        response = await self._request("GET", f"{API}/rooms/{room_id}/pins")
        return _messages.validate_json(response.content)

    async def save(self, message_id: str) -> None:
        await self._request("PUT", f"{API}/messages/{message_id}/save")

    async def unsave(self, message_id: str) -> None:
        await self._request("DELETE", f"{API}/messages/{message_id}/save")

    async def saved(self, limit: int | None = None) -> list[Message]:
        """My saved messages, newest save first."""
        response = await self._request("GET", f"{API}/saved", params={"limit": limit})
        return _messages.validate_json(response.content)

    # -- attachments ------------------------------------------------------------------------

    async def upload(
        self, filename: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> Attachment:
        response = await self._request(
            "POST", f"{API}/attachments", files={"file": (filename, data, content_type)}
        )
        return Attachment.model_validate_json(response.content)

    async def download(self, url: str) -> bytes:
        """Fetch an attachment's `url` (relative to the server, or absolute).

        The token is sent only to this server's origin, never to a foreign host.
        """
        target = httpx.URL(url)
        base = httpx.URL(self.base_url)
        same_origin = target.is_relative_url or (
            target.scheme,
            target.host,
            target.port,
        ) == (base.scheme, base.host, base.port)
        response = await self._request("GET", url, auth=same_origin)
        return response.content


def _reaction_path(message_id: str, emoji: str) -> str:
    # An emoji is UTF-8 in the path, percent-encoded; so is every `:` and `+` of a short name.
    return f"{API}/messages/{message_id}/reactions/{quote(emoji, safe='')}"
