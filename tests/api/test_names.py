"""Names (people, rooms) must show something: invisible-only names are refused with 422."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable

import httpx
import pytest

from parlour.client import ParlourAPIError
from parlour.domain.visible import has_visible
from tests.support import PASSWORD, Org

INVISIBLE_NAMES = [
    "\u200b",  # zero-width space
    " \u200b\u200c\u200d ",  # ... with non-joiner, joiner and ordinary spaces around
    "\u2060\ufeff",  # word joiner, BOM
    "\u00ad\u200e\u202e",  # soft hyphen, direction marks (other Cf characters)
    "\x07\x1b",  # control characters
    "\u3164\u115f",  # Hangul fillers, the classic "blank" display names
]
VISIBLE_NAMES = ["\u200bAda", "👩\u200d💻", "ア"]


async def _refused(call: Awaitable[object]) -> None:
    with pytest.raises(ParlourAPIError) as error:
        await call
    assert error.value.status == 422
    assert error.value.code == "name_required"


async def test_invisible_names_are_refused_everywhere(org: Org, server_url: str) -> None:
    admin, bea = org[0].client, org[1].client
    room = await admin.create_group("Visible", [org[1].user_id])
    async with httpx.AsyncClient(base_url=server_url) as http:
        for name in INVISIBLE_NAMES:
            await _refused(bea.update_me(full_name=name))
            await _refused(admin.create_group(name, [org[1].user_id]))
            await _refused(admin.rename_room(room.id, name))
            await _refused(admin.create_user("ghost@example.test", name, PASSWORD))
            update = await http.patch(
                f"/api/v1/users/{org[1].user_id}",
                json={"full_name": name},
                headers={"Authorization": f"Bearer {admin.token}"},
            )
            assert update.status_code == 422, repr(name)
            assert update.json()["error"]["code"] == "name_required"
    # Nothing changed.
    assert (await bea.me()).full_name == org[1].full_name
    assert [r.name for r in await admin.list_rooms()] == ["Visible"]
    assert all(u.email != "ghost@example.test" for u in await admin.search_users("ghost"))


async def test_names_with_something_visible_are_kept_as_written(org: Org) -> None:
    bea = org[1].client
    for name in VISIBLE_NAMES:
        assert (await bea.update_me(full_name=name)).full_name == name


def test_every_format_and_control_character_is_invisible() -> None:
    # Checked against this Python's Unicode database, so a newer one cannot slip by.
    for code_point in range(0x110000):
        char = chr(code_point)
        if unicodedata.category(char) in {"Cc", "Cf"} or char.isspace():
            assert not has_visible(char), hex(code_point)
    assert has_visible("a\u200b")
    assert not has_visible("")
