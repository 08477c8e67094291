"""An echo bot: answers every message in its rooms with the same words.

PARLOUR_URL=https://chat.example.com PARLOUR_BOT_TOKEN=<token from POST /api/v1/bots> \
    python echo_bot.py
"""

import asyncio
import os

from parlour.client import ParlourClient


async def main() -> None:
    url, token = os.environ["PARLOUR_URL"], os.environ["PARLOUR_BOT_TOKEN"]
    async with ParlourClient(url, token=token) as bot:
        me = await bot.me()
        async with bot.events() as events:
            async for event in events:
                if event.type != "message.created":
                    continue
                message = event.message
                if message.author.id != me.id and message.system is None:
                    await bot.send_message(message.room_id, "echo: " + message.content)


if __name__ == "__main__":
    asyncio.run(main())
