"""Permission matrix for every room and message endpoint.

Outsiders (never-members, removed members, other organizations, even the org admin when not in the
room) get 404 everywhere — never 403, which would reveal that the room exists. Members who may see
the room but not do the thing get 403. Deactivated users get 401 on everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from parlour.client import ParlourAPIError, ParlourClient
from parlour.client.models import Message, Room
from tests.support import PASSWORD, Member, Org, OrgFactory


@dataclass
class Scene:
    room: Room
    group_admin: Member  # created the group: member and group admin, not an org admin
    member: Member  # plain member
    never_member: Member  # same org, never in the room
    removed: Member  # was a member, removed by the group admin
    other_org: Member  # member of another organization
    org_admin: Member  # org admin, not in the room
    admin_message: Message
    member_message: Message


@pytest.fixture
async def scene(org: Org, orgs: OrgFactory) -> Scene:
    group_admin, member, never_member, org_admin = org[1], org[2], org[3], org[0]
    removed = await orgs.add_user(org, "Rex Removed")
    room = await group_admin.client.create_group("Secret plans", [member.user_id, removed.user_id])
    admin_message = await group_admin.client.send_message(room.id, "from the group admin")
    member_message = await member.client.send_message(room.id, "from a member")
    # Something for outsiders to try to take away: a reaction, a pin, a save.
    await member.client.react(admin_message.id, "🎉")
    await member.client.pin(admin_message.id)
    await member.client.save(member_message.id)
    await removed.client.send_message(room.id, "I was here")
    await group_admin.client.remove_member(room.id, removed.user_id)
    other = await orgs.create(["Other Admin", "Otto Outsider"])
    return Scene(
        room,
        group_admin,
        member,
        never_member,
        removed,
        other[1],
        org_admin,
        admin_message,
        member_message,
    )


Call = Callable[[ParlourClient, Scene], Awaitable[Any]]

# Every room and message endpoint, as a call an outsider might try.
ENDPOINTS: dict[str, Call] = {
    "get_room": lambda c, s: c.get_room(s.room.id),
    "list_messages": lambda c, s: c.list_messages(s.room.id),
    "send_message": lambda c, s: c.send_message(s.room.id, "let me in"),
    "mark_read": lambda c, s: c.mark_read(s.room.id, s.member_message.id),
    "rename_room": lambda c, s: c.rename_room(s.room.id, "Mine now"),
    "add_members": lambda c, s: c.add_members(s.room.id, [s.never_member.user_id]),
    "remove_member": lambda c, s: c.remove_member(s.room.id, s.member.user_id),
    "edit_message": lambda c, s: c.edit_message(s.member_message.id, "hijacked"),
    "delete_message": lambda c, s: c.delete_message(s.member_message.id),
    "message_history": lambda c, s: c.message_history(s.member_message.id),
    "search_in_room": lambda c, s: c.search_messages(room_id=s.room.id),
    "react": lambda c, s: c.react(s.member_message.id, "👍"),
    "unreact": lambda c, s: c.unreact(s.admin_message.id, "🎉"),
    "pin": lambda c, s: c.pin(s.member_message.id),
    "unpin": lambda c, s: c.unpin(s.admin_message.id),
    "pins": lambda c, s: c.pins(s.room.id),
    "save": lambda c, s: c.save(s.member_message.id),
    "unsave": lambda c, s: c.unsave(s.member_message.id),
}

OUTSIDERS = ["never_member", "removed", "other_org", "org_admin"]


@pytest.mark.parametrize("who", OUTSIDERS)
async def test_outsiders_get_404_never_403_and_change_nothing(scene: Scene, who: str) -> None:
    outsider: Member = getattr(scene, who)
    wrong: dict[str, object] = {}
    for endpoint, call in ENDPOINTS.items():
        try:
            result = await call(outsider.client, scene)
        except ParlourAPIError as error:
            if error.status != 404:
                wrong[endpoint] = (error.status, error.code)
        else:
            wrong[endpoint] = ("allowed", result)
    assert wrong == {}, f"{who} should get 404 on every room/message endpoint"

    room = await scene.member.client.get_room(scene.room.id)
    assert room.name == "Secret plans"
    assert {u.id for u in room.members} == {scene.group_admin.user_id, scene.member.user_id}
    page = await scene.member.client.list_messages(scene.room.id)
    # The removal is the room's last line (a system line), after what people wrote.
    assert page[-1].system is not None
    assert (page[-1].system.action, page[-1].system.user_ids) == (
        "removed",
        [scene.removed.user_id],
    )
    messages = [m for m in page if m.system is None]
    assert [m.content for m in messages] == ["from the group admin", "from a member", "I was here"]
    assert not any(m.deleted or m.edited_at for m in messages)
    assert [(m.pinned, [(r.emoji, r.user_ids) for r in m.reactions]) for m in messages] == [
        (True, [("🎉", [scene.member.user_id])]),
        (False, []),
        (False, []),
    ]
    assert [m.id for m in await scene.member.client.saved()] == [scene.member_message.id]


async def test_outsiders_do_not_see_the_room_in_lists_or_search(scene: Scene) -> None:
    for who in OUTSIDERS:
        client: ParlourClient = getattr(scene, who).client
        assert scene.room.id not in {r.id for r in await client.list_rooms()}, who
        assert scene.room.id not in (await client.unread()).rooms, who
        found = await client.search_messages(q="member")
        assert all(m.room_id != scene.room.id for m in found), who


async def test_removed_member_loses_everything_including_own_messages(scene: Scene) -> None:
    client = scene.removed.client
    own = [
        m
        for m in await scene.member.client.list_messages(scene.room.id)
        if m.content == "I was here"
    ]
    assert len(own) == 1
    with pytest.raises(ParlourAPIError) as edit:
        await client.edit_message(own[0].id, "changed after removal")
    assert edit.value.status == 404
    with pytest.raises(ParlourAPIError) as delete:
        await client.delete_message(own[0].id)
    assert delete.value.status == 404
    assert await client.search_messages(q="here") == []


async def test_deactivated_user_gets_401_everywhere(org: Org, orgs: OrgFactory) -> None:
    admin = org[0]
    gone = await orgs.add_user(org, "Gus Gone")
    room = await org[1].client.create_group("Before they left", [gone.user_id])
    message = await gone.client.send_message(room.id, "still here")
    await admin.client.deactivate_user(gone.user_id)

    scene_calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: gone.client.get_room(room.id),
        lambda: gone.client.list_messages(room.id),
        lambda: gone.client.send_message(room.id, "ghost"),
        lambda: gone.client.mark_read(room.id, message.id),
        lambda: gone.client.rename_room(room.id, "ghost"),
        lambda: gone.client.edit_message(message.id, "ghost"),
        lambda: gone.client.delete_message(message.id),
        lambda: gone.client.message_history(message.id),
        lambda: gone.client.search_messages(q="still"),
        lambda: gone.client.list_rooms(),
        lambda: gone.client.me(),
        lambda: gone.client.react(message.id, "👍"),
        lambda: gone.client.pin(message.id),
        lambda: gone.client.save(message.id),
        lambda: gone.client.saved(),
    ]
    for call in scene_calls:
        with pytest.raises(ParlourAPIError) as error:
            await call()
        assert error.value.status == 401, error.value
    listed = await org[1].client.list_messages(room.id)
    assert [(m.content, m.deleted, m.pinned, m.reactions) for m in listed] == [
        ("still here", False, False, [])
    ]
    # A deactivated user cannot log back in either.
    fresh = ParlourClient(org[1].client.base_url)
    try:
        with pytest.raises(ParlourAPIError) as login:
            await fresh.login(gone.email, PASSWORD)
        assert login.value.status == 401
    finally:
        await fresh.aclose()


async def test_deactivate_is_admin_only(org: Org) -> None:
    with pytest.raises(ParlourAPIError) as error:
        await org[1].client.deactivate_user(org[2].user_id)
    assert error.value.status == 403
    assert (await org[2].client.me()).is_active


async def test_plain_member_can_read_and_post_but_not_administer(scene: Scene) -> None:
    client, room_id = scene.member.client, scene.room.id
    assert (await client.get_room(room_id)).id == room_id
    assert len([m for m in await client.list_messages(room_id) if m.system is None]) == 3
    posted = await client.send_message(room_id, "member post")
    await client.mark_read(room_id, posted.id)

    for call in (
        lambda: client.rename_room(room_id, "Not allowed"),
        lambda: client.add_members(room_id, [scene.never_member.user_id]),
        lambda: client.remove_member(room_id, scene.group_admin.user_id),
    ):
        with pytest.raises(ParlourAPIError) as error:
            await call()
        assert error.value.status == 403, error.value
    room = await client.get_room(room_id)
    assert room.name == "Secret plans"
    assert {u.id for u in room.members} == {scene.group_admin.user_id, scene.member.user_id}


async def test_group_admin_can_rename_add_and_remove(scene: Scene) -> None:
    client, room_id = scene.group_admin.client, scene.room.id
    renamed = await client.rename_room(room_id, "Public plans")
    assert renamed.name == "Public plans"
    added = await client.add_members(room_id, [scene.never_member.user_id])
    assert scene.never_member.user_id in {u.id for u in added.members}
    assert (await scene.never_member.client.get_room(room_id)).name == "Public plans"
    await client.remove_member(room_id, scene.never_member.user_id)
    with pytest.raises(ParlourAPIError) as gone:
        await scene.never_member.client.get_room(room_id)
    assert gone.value.status == 404


async def test_group_admin_cannot_add_other_org_users(scene: Scene) -> None:
    with pytest.raises(ParlourAPIError) as error:
        await scene.group_admin.client.add_members(scene.room.id, [scene.other_org.user_id])
    assert error.value.status in (404, 422, 400)
    with pytest.raises(ParlourAPIError):
        await scene.other_org.client.get_room(scene.room.id)


async def test_anyone_may_leave(scene: Scene) -> None:
    await scene.member.client.leave(scene.room.id)
    with pytest.raises(ParlourAPIError) as error:
        await scene.member.client.list_messages(scene.room.id)
    assert error.value.status == 404


async def test_only_author_edits(scene: Scene) -> None:
    edited = await scene.member.client.edit_message(scene.member_message.id, "fixed typo")
    assert edited.content == "fixed typo"
    # Not even the group admin may put words in someone's mouth.
    with pytest.raises(ParlourAPIError) as by_admin:
        await scene.group_admin.client.edit_message(scene.member_message.id, "admin words")
    assert by_admin.value.status == 403
    with pytest.raises(ParlourAPIError) as by_member:
        await scene.member.client.edit_message(scene.admin_message.id, "member words")
    assert by_member.value.status == 403
    history = await scene.group_admin.client.message_history(scene.member_message.id)
    assert [v.content for v in history] == ["from a member", "fixed typo"]


async def test_delete_by_author_or_group_admin_only(scene: Scene) -> None:
    with pytest.raises(ParlourAPIError) as by_member:
        await scene.member.client.delete_message(scene.admin_message.id)
    assert by_member.value.status == 403
    await scene.group_admin.client.delete_message(scene.member_message.id)
    own = await scene.group_admin.client.send_message(scene.room.id, "mine")
    await scene.group_admin.client.delete_message(own.id)
    mine = await scene.member.client.send_message(scene.room.id, "also mine")
    await scene.member.client.delete_message(mine.id)

    listed = {m.id: m for m in await scene.member.client.list_messages(scene.room.id)}
    assert listed[scene.member_message.id].deleted
    assert listed[scene.member_message.id].content == ""
    assert listed[own.id].deleted
    assert listed[mine.id].deleted
    assert not listed[scene.admin_message.id].deleted


async def test_direct_room_members_only(org: Org) -> None:
    room = await org[1].client.create_direct(org[2].user_id)
    sent = await org[1].client.send_message(room.id, "just us")
    for outsider in (org[0], org[3]):
        with pytest.raises(ParlourAPIError) as error:
            await outsider.client.get_room(room.id)
        assert error.value.status == 404
        with pytest.raises(ParlourAPIError) as history:
            await outsider.client.message_history(sent.id)
        assert history.value.status == 404
    with pytest.raises(ParlourAPIError) as add:
        await org[1].client.add_members(room.id, [org[3].user_id])
    assert add.value.status == 403
    with pytest.raises(ParlourAPIError) as delete:
        await org[2].client.delete_message(sent.id)
    assert delete.value.status == 403


async def test_unknown_ids_are_404(org: Org) -> None:
    client = org[0].client
    for call in (
        lambda: client.get_room("nope"),
        lambda: client.list_messages("nope"),
        lambda: client.edit_message("nope", "x"),
        lambda: client.delete_message("nope"),
        lambda: client.message_history("nope"),
    ):
        with pytest.raises(ParlourAPIError) as error:
            await call()
        assert error.value.status == 404
