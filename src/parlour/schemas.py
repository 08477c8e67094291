"""The public shapes of the contract (shared/API.md): REST bodies and event payloads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["online", "away", "busy", "offline"]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class UserOut(BaseModel):
    id: str
    email: str
    full_name: str
    status: Status
    is_admin: bool
    is_active: bool
    last_seen_at: str | None


class Preferences(BaseModel):
    message_preview: bool = True
    notification_sound: bool = True
    desktop_notifications: bool = False
    enable_chat: bool = True


class MeOut(UserOut):
    org_id: str
    chosen_status: Status
    preferences: Preferences


class AttachmentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(BaseModel):
    id: str
    room_id: str
    author: UserOut
    content: str
    html: str
    created_at: str
    edited_at: str | None
    deleted: bool
    client_id: str | None
    mentions: list[str]
    attachments: list[AttachmentOut]


class RoomOut(BaseModel):
    id: str
    type: Literal["direct", "group"]
    name: str
    members: list[UserOut]
    admins: list[str]
    created_at: str
    last_message: MessageOut | None
    unread_count: int
    last_read_message_id: str | None


class MessageVersionOut(BaseModel):
    content: str
    html: str
    created_at: str


class UnreadOut(BaseModel):
    total: int
    rooms: dict[str, int]


class ChatProfileOut(BaseModel):
    user: UserOut
    status: Status
    last_seen_at: str | None
    direct_room_id: str | None


class LoginOut(BaseModel):
    token: str
    csrf_token: str
    user: MeOut


class HealthOut(BaseModel):
    status: str


# Request bodies -------------------------------------------------------------------------------


class LoginIn(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)


class UpdateMeIn(Strict):
    full_name: str | None = None
    status: Status | None = None
    preferences: Preferences | None = None


class PasswordIn(Strict):
    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


class CreateUserIn(Strict):
    email: str = Field(max_length=320)
    full_name: str
    password: str = Field(max_length=1000)
    is_admin: bool = False


class UpdateUserIn(Strict):
    is_active: bool | None = None
    is_admin: bool | None = None
    full_name: str | None = None


class CreateRoomIn(Strict):
    type: Literal["direct", "group"]
    user_id: str | None = Field(default=None, max_length=64)
    name: str | None = None
    member_ids: list[str] | None = None


class RenameRoomIn(Strict):
    name: str


class AddMembersIn(Strict):
    user_ids: list[str]


class SendMessageIn(Strict):
    content: str = ""
    client_id: str | None = Field(default=None, min_length=1, max_length=100)
    attachment_ids: list[str] | None = Field(default=None, max_length=20)


class EditMessageIn(Strict):
    content: str


class ReadIn(Strict):
    message_id: str = Field(max_length=64)
