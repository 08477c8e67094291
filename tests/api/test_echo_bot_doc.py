"""The echo bot of docs/integrations.md and the SDK's README (examples/echo_bot.py) runs
against a real server: it answers a person's message, and ignores its own answers and system
lines."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from parlour.client import Event
from tests.support import Org

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "echo_bot.py"
DOC = ROOT / "docs" / "integrations.md"
SDK_README = ROOT / "src" / "parlour" / "client" / "README.md"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("echo_bot", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("doc", [DOC, SDK_README], ids=["integrations", "sdk-readme"])
def test_the_docs_show_the_example_as_it_is(doc: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.DOTALL)
    code = EXAMPLE.read_text()
    body = code[code.index("import asyncio") :]
    assert body in blocks, f"{doc.name}'s echo bot differs from examples/echo_bot.py"


async def test_the_echo_bot_answers(
    org: Org, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, bea = org[0], org[1]
    made = await ada.client.create_bot("Echo")
    room = await ada.client.create_group("Echo chamber", [bea.user_id, made.user.id])
    monkeypatch.setenv("PARLOUR_URL", server_url)
    monkeypatch.setenv("PARLOUR_BOT_TOKEN", made.token)
    example = load_example()

    def is_bot_online(event: Event) -> bool:
        return (
            event.type == "presence.updated"
            and event["user_id"] == made.user.id
            and event["status"] == "online"
        )

    def is_echo(event: Event) -> bool:
        return event.type == "message.created" and event.message.author.id == made.user.id

    async with bea.client.events() as stream:
        bot = asyncio.create_task(example.main())
        try:
            await stream.wait_for(is_bot_online, timeout=10)  # its socket is open: it hears us
            await bea.client.send_message(room.id, "Is anyone there?")
            echo = await stream.wait_for(is_echo, timeout=10)
            assert echo.message.content == "echo: Is anyone there?"
            assert echo.message.room_id == room.id
        finally:
            bot.cancel()
            with pytest.raises(asyncio.CancelledError):
                await bot
    # One answer, to the person only (not to itself, nor to the "added" line).
    page = await bea.client.list_messages(room.id)
    assert [m.content for m in page if m.author.id == made.user.id] == ["echo: Is anyone there?"]
