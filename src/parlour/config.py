"""Settings from the environment (`PARLOUR_*`) or a `.env` file."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Limits(BaseSettings):
    """Every limit a client can hit; over a limit nothing is stored."""

    model_config = SettingsConfigDict(env_prefix="PARLOUR_LIMIT_", env_file=".env", extra="ignore")

    message_chars: int = 10_000
    name_chars: int = 200
    attachment_bytes: int = 25 * 1024 * 1024
    group_members: int = 1_000
    request_body_bytes: int = 1024 * 1024
    frame_bytes: int = 64 * 1024
    page_size: int = 200
    search_results: int = 100
    # Distinct emoji on one message, and pinned messages in one room.
    reactions_per_message: int = 20
    pins_per_room: int = 100
    # Login throttling: failures per window, per account and per client address.
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 20
    login_window_seconds: int = 300
    # WebSocket flood control: a token bucket per socket.
    frames_per_second: float = 20.0
    frame_burst: int = 60
    # A socket whose outgoing queue grows past this is a slow consumer: it is closed and resumes.
    socket_queue_frames: int = 2_000
    # REST sends (POST .../messages): a token bucket per user and process, like the socket's.
    sends_per_second: float = 20.0
    send_burst: int = 60
    # Posts to one incoming webhook's URL (a token bucket per webhook and process): 20 per 10 s.
    webhook_posts_per_second: float = 2.0
    webhook_burst: int = 20
    # Open WebSockets of one user in one process; the next is closed with 4429.
    sockets_per_user: int = 100


def _networks(value: object, field: str, what: str) -> object:
    """A comma-separated (or listed) setting of CIDR networks, normalized. A malformed entry is
    refused at start: uvicorn (for proxies) and the guard (for allowed networks) would
    otherwise silently take it for something else or for nothing."""
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list):
        return parts
    networks = []
    for part in (str(item).strip() for item in parts):
        if not part:
            continue
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(f"{field}: {part!r} is not {what}") from None
    return networks


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLOUR_", env_file=".env", extra="ignore")

    data_dir: Path = Path("parlour-data")
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Peers (addresses or CIDR networks) whose X-Forwarded-For is believed: the reverse proxies in
    # front of us. None by default, so a client cannot pick the address it is throttled under.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    attachments_dir: Path | None = None
    # FULL fsyncs the WAL at every commit: an acknowledged message survives power loss.
    # NORMAL is faster but may lose the last commits on power loss (never on a process crash).
    sqlite_synchronous: str = "FULL"
    # The contract promises 7 days of replay: a smaller value is refused at start-up rather than
    # silently raised, so the operator learns their setting is not in force.
    event_retention_days: int = Field(default=7, ge=7)
    # Housekeeping (parlour.actions.housekeeping) runs on start-up and then this often.
    housekeeping_seconds: float = Field(default=3600.0, gt=0)
    presence_away_seconds: int = 300
    presence_grace_seconds: float = 5.0
    # Presence reaches people who share a room of at most this many members with the user: in
    # bigger rooms every arrival would cost a frame to every member (members² as a crowd connects).
    presence_room_members: int = 100
    typing_seconds: float = 6.0
    typing_throttle_seconds: float = 2.0
    # Fallback poll of the event stream: bounds delivery delay when the bus loses a notification.
    stream_poll_seconds: float = 1.0
    cookie_secure: bool = False
    # permessage-deflate keeps a zlib context per socket (tens of KiB each) and compresses every
    # frame once per recipient; chat frames are small, so it is off unless asked for.
    ws_compression: bool = False
    # Connection limits (docs/operations.md): a connection must send its request headers within
    # header_timeout_seconds; a body must make progress every body_timeout_seconds and average
    # body_min_bytes_per_second after its first body_timeout_seconds; an idle keep-alive
    # connection is closed after keepalive_timeout_seconds. Open connections (HTTP and WebSocket)
    # are capped at max_connections, lowered to fit the process's descriptor limit.
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    body_min_bytes_per_second: int = 500
    keepalive_timeout_seconds: int = 5
    max_connections: int = 50_000
    # Reaching people who are away (docs/operations.md, "E-mail and push"). Without an SMTP
    # URL no e-mail is sent (owed digests wait in the database until one is configured).
    smtp_url: str = ""
    mail_from: str = "Parlour <parlour@localhost>"
    email_delay_seconds: float = Field(default=600.0, ge=0)
    public_url: str = "http://127.0.0.1:8000"
    # The VAPID key (PEM or base64url of the raw private key); made once and kept in the
    # database when not given. The subject is where push services can reach the operator.
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:admin@localhost"
    # Networks exempt from the outbound address guard (plain http included): an intranet, a
    # test server. Empty: only public https addresses are fetched.
    outbound_allow_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Link previews (docs/integrations.md): fetched after a send, through the outbound guard;
    # one page's fetch (redirects included) gives up after this many seconds.
    link_previews: bool = True
    link_preview_timeout_seconds: float = Field(default=5.0, gt=0)
    # How often the notifier looks for new messages and due digests (a bound, not a schedule).
    notify_poll_seconds: float = Field(default=0.5, gt=0)
    # Outgoing webhooks (docs/integrations.md): how often their deliverer looks for new events,
    # and the retry backoff after a failed delivery (doubling from the first, capped).
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    webhook_retry_seconds: float = Field(default=1.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=600.0, gt=0)
    # Outgoing webhooks go wherever an admin points them (API.md: exempt from the outbound
    # guard). Set, these networks (CIDRs) are the only addresses deliveries may reach: the
    # test suite confines them to loopback; an operator may confine them to an intranet.
    webhook_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        return _networks(value, "trusted_proxies", "an address or network")

    @field_validator("outbound_allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        return _networks(value, "outbound_allow_networks", "a network")

    @field_validator("webhook_networks", mode="before")
    @classmethod
    def _split_webhook_networks(cls, value: object) -> object:
        return _networks(value, "webhook_networks", "a network")

    @field_validator("sqlite_synchronous")
    @classmethod
    def _check_synchronous(cls, value: str) -> str:
        if value.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError("sqlite_synchronous must be FULL, EXTRA or NORMAL")
        return value.upper()

    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: embedded SQLite in the data dir unless configured."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'parlour.db').resolve()}"
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url

    def resolved_attachments_dir(self) -> Path:
        return self.attachments_dir or (self.data_dir / "attachments")
